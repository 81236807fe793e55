// Sends the client scenario with Segment's Node SDK (@segment/analytics-node).
//
// Usage: node send.cjs '<scenario JSON>' (the fields of clients.Scenario), with
// NODE_PATH pointing at the node_modules that install-deps.sh fills. Exits
// non-zero when the SDK reports an error, so a failed delivery fails the test.
const { Analytics } = require('@segment/analytics-node')

async function main() {
  const s = JSON.parse(process.argv[2])
  const errors = []
  const analytics = new Analytics({ writeKey: s.writeKey, host: s.host, maxRetries: s.maxRetries || 3 })
  analytics.on('error', (err) => errors.push(String(err.reason || err.code || err)))

  analytics.page({
    anonymousId: s.anonymousId,
    name: 'Home',
    properties: { url: s.pageUrl, referrer: s.referrer },
    context: { page: { url: s.pageUrl, referrer: s.referrer } },
    messageId: s.messageIds.page,
  })
  analytics.track({
    anonymousId: s.anonymousId,
    event: 'Product Added',
    properties: { product_id: s.productId, price: s.price },
    messageId: s.messageIds.productAdded,
  })
  analytics.identify({
    anonymousId: s.anonymousId,
    userId: s.userId,
    traits: { email: s.email },
    messageId: s.messageIds.identify,
  })
  analytics.track({
    anonymousId: s.anonymousId,
    userId: s.userId,
    event: 'Order Completed',
    properties: { order_id: s.orderId, revenue: s.revenue, currency: s.currency },
    messageId: s.messageIds.orderCompleted,
  })
  await analytics.closeAndFlush({ timeout: 20000 })
  if (errors.length > 0) {
    console.error('segment node sdk: ' + errors.join('; '))
    process.exit(1)
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
