"""Sends the client scenario with Segment's Python SDK (segment-analytics-python).

Usage: python send.py '<scenario JSON>' (the fields of clients.Scenario).
Exits non-zero when the SDK reports an error, so a failed delivery fails the test.
"""
import json
import sys

import segment.analytics as analytics


def main():
    s = json.loads(sys.argv[1])
    errors = []
    analytics.write_key = s["writeKey"]
    analytics.host = s["host"]
    analytics.gzip = s["gzip"]
    analytics.max_retries = s.get("maxRetries") or 3
    analytics.on_error = lambda err, batch: errors.append(str(err))

    page_context = {"page": {"url": s["pageUrl"], "referrer": s["referrer"]}}
    analytics.page(anonymous_id=s["anonymousId"], name="Home",
                   properties={"url": s["pageUrl"], "referrer": s["referrer"]},
                   context=page_context, message_id=s["messageIds"]["page"])
    analytics.track(anonymous_id=s["anonymousId"], event="Product Added",
                    properties={"product_id": s["productId"], "price": s["price"]},
                    message_id=s["messageIds"]["productAdded"])
    analytics.identify(anonymous_id=s["anonymousId"], user_id=s["userId"],
                       traits={"email": s["email"]},
                       message_id=s["messageIds"]["identify"])
    analytics.track(anonymous_id=s["anonymousId"], user_id=s["userId"], event="Order Completed",
                    properties={"order_id": s["orderId"], "revenue": s["revenue"],
                                "currency": s["currency"]},
                    message_id=s["messageIds"]["orderCompleted"])
    analytics.flush()
    analytics.shutdown()
    if errors:
        print("segment python sdk: " + "; ".join(errors), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
