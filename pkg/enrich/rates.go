package enrich

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchline-io/touchline/pkg/clickhouse"
	"github.com/touchline-io/touchline/pkg/rates"
)

// ExchangeRate converts a record of the exchange rates topic to a row. As
// with spend, the row's version grows with the record's timestamp and
// offset, so the newest restatement of a (date, base, quote) wins and a
// replay of older records never brings an old rate back.
func (p *Processor) ExchangeRate(ctx context.Context, r *kgo.Record) (*clickhouse.ExchangeRateRow, *Rejection, error) {
	native, rej, err := p.decode(ctx, r)
	if rej != nil || err != nil {
		return nil, rej, err
	}
	x, err := rates.FromAvro(native)
	if err != nil {
		return nil, reject(err), nil
	}
	row, rej := p.ExchangeRateRow(x)
	if row != nil {
		row.Version = SpendVersion(r)
	}
	return row, rej, nil
}

// ExchangeRateRow validates x into a row, or says why it is rejected. The
// row's Version is left zero.
func (p *Processor) ExchangeRateRow(x *rates.ExchangeRate) (*clickhouse.ExchangeRateRow, *Rejection) {
	if err := x.Validate(p.limits, time.Now()); err != nil {
		return nil, reject(err)
	}
	return &clickhouse.ExchangeRateRow{
		Date:       x.Date.Time,
		Base:       x.Base,
		Quote:      x.Quote,
		Rate:       x.Float(),
		Source:     x.Source,
		IngestedAt: time.Now().UTC().Truncate(time.Second),
	}, nil
}
