package channel_test

import (
	"fmt"

	"github.com/touchline-io/touchline/pkg/channel"
)

func ExampleRules_Classify() {
	rules, err := channel.Load("../../pipelines/channels.yaml")
	if err != nil {
		panic(err)
	}
	for _, in := range []channel.Input{
		{UTMSource: "google", UTMMedium: "cpc", EventType: "page_view"},
		{Referrer: "https://l.facebook.com/l.php?u=x", EventType: "page_view"},
		{Channel: "Newsletter", EventType: "page_view"},
		{Channel: "foo", EventType: "page_view"},
		{EventType: "store_visit"},
	} {
		fmt.Println(rules.Classify(in))
	}
	// Output:
	// paid_search
	// organic_social
	// email
	// direct
	// offline
}
