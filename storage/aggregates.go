package storage

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/entity-enricher/enricher"
)

// Daily aggregates, kept with every record change so stats and costs never scan the records
// of whole days:
//
//	ra/<org>/<yyyymmdd>/<type>/<model>   enricher.StatsRow: records by type and answering model (live only)
//	rk/<org>/<yyyymmdd>/<model>          enricher.CostRow: billed responses by the model that answered them
//	                                      (soft-deleted records still count; hard-deleted do not)
func dayOf(t time.Time) string { return t.UTC().Format("20060102") }

func statsOf(r *enricher.Record) enricher.StatsRow {
	s := enricher.StatsRow{Records: 1, CostUSD: r.CostUSD, InputTokens: r.InputTokens, OutputTokens: r.OutputTokens, TimeMS: r.ProcessingTimeMS}
	if r.Success {
		s.Successful = 1
	}
	return s
}

func statsKey(org, day string, typ enricher.RecordType, model string) []byte {
	return []byte("ra/" + org + "/" + day + "/" + string(typ) + "/" + model)
}

func costKeyOf(org, day, model string) []byte { return []byte("rk/" + org + "/" + day + "/" + model) }

func modelOf(r *enricher.Record) string {
	if r.Model == nil {
		return ""
	}
	return *r.Model
}

// tally gathers the aggregate changes of the records one transaction writes (daily stats,
// daily costs, record counters) so that apply reads and writes each aggregate key once per
// transaction instead of once per record: a group commit of many records touches the same
// few keys. Used by one goroutine; the zero value is ready.
type tally struct {
	stats  map[string]enricher.StatsRow
	costs  map[string]enricher.CostRow
	counts map[string]int64
}

// addStats adds (sign 1) or removes (sign -1) a record from the live stats aggregate.
func (t *tally) addStats(r *enricher.Record, sign int) {
	if t.stats == nil {
		t.stats = map[string]enricher.StatsRow{}
	}
	k := string(statsKey(r.OrganizationID, dayOf(r.CreatedAt.Time), r.Type, modelOf(r)))
	row := t.stats[k]
	row.Add(statsOf(r), sign)
	t.stats[k] = row
}

// addCosts adds or removes a record's billed responses.
func (t *tally) addCosts(r *enricher.Record, sign int) {
	if t.costs == nil {
		t.costs = map[string]enricher.CostRow{}
	}
	for model, c := range r.CostsByModel() {
		k := string(costKeyOf(r.OrganizationID, dayOf(r.CreatedAt.Time), model))
		row := t.costs[k]
		row.Requests += sign * c.Requests
		row.CostUSD += float64(sign) * c.CostUSD
		row.InputTokens += sign * c.InputTokens
		row.OutputTokens += sign * c.OutputTokens
		t.costs[k] = row
	}
}

// count adds delta to the "n:" (family "n") or "d:" (family "d") counters of r.
func (t *tally) count(r *enricher.Record, family string, delta int64) {
	if t.counts == nil {
		t.counts = map[string]int64{}
	}
	for _, name := range recordCounterNames(r) {
		t.counts[string(keyRecordCount(r.OrganizationID, family+":"+name))] += delta
	}
}

// apply adds the gathered changes to the stored aggregates in txn.
func (t *tally) apply(txn *badger.Txn) error {
	for k, d := range t.stats {
		var row enricher.StatsRow
		if err := getJSON(txn, []byte(k), "stats", &row); err != nil && !enricher.IsKind(err, enricher.KindNotFound) {
			return err
		}
		row.Add(d, 1)
		if err := putJSON(txn, []byte(k), &row); err != nil {
			return err
		}
	}
	for k, d := range t.costs {
		var row enricher.CostRow
		if err := getJSON(txn, []byte(k), "costs", &row); err != nil && !enricher.IsKind(err, enricher.KindNotFound) {
			return err
		}
		row.Requests += d.Requests
		row.CostUSD += d.CostUSD
		row.InputTokens += d.InputTokens
		row.OutputTokens += d.OutputTokens
		if err := putJSON(txn, []byte(k), &row); err != nil {
			return err
		}
	}
	for k, d := range t.counts {
		if d == 0 {
			continue
		}
		if err := addCount(txn, []byte(k), d); err != nil {
			return err
		}
	}
	return nil
}

// Stats sums the live records of org created in [since, until) (unix ms; 0 = unbounded) of
// type typ ("" = all), by type and model. Whole days come from the daily aggregates; the
// partial days at the ends are summed from the records index.
func (db *DB) Stats(org string, typ string, since, until int64) (map[enricher.StatsKey]enricher.StatsRow, error) {
	out := map[enricher.StatsKey]enricher.StatsRow{}
	err := db.view(func(txn *badger.Txn) error {
		return walkDays(txn, "ra/"+org+"/", since, until, func(day string, rest []byte, v []byte) error {
			var row enricher.StatsRow
			if err := decodeValue(v, &row); err != nil {
				return err
			}
			t, model, _ := cutSlash(string(rest))
			if typ != "" && t != typ {
				return nil
			}
			k := enricher.StatsKey{Type: enricher.RecordType(t), Model: model}
			agg := out[k]
			agg.Add(row, 1)
			out[k] = agg
			return nil
		}, func(r *enricher.Record) {
			if r.IsDeleted || (typ != "" && string(r.Type) != typ) {
				return
			}
			k := enricher.StatsKey{Type: r.Type, Model: modelOf(r)}
			agg := out[k]
			agg.Add(statsOf(r), 1)
			out[k] = agg
		}, org)
	})
	return out, err
}

// Costs sums the billed responses of org's records created in [since, until), by model;
// soft-deleted records count, hard-deleted ones do not.
func (db *DB) Costs(org string, since, until int64) (map[string]enricher.CostRow, error) {
	out := map[string]enricher.CostRow{}
	add := func(model string, c enricher.CostRow) {
		agg := out[model]
		agg.Requests += c.Requests
		agg.CostUSD += c.CostUSD
		agg.InputTokens += c.InputTokens
		agg.OutputTokens += c.OutputTokens
		out[model] = agg
	}
	err := db.view(func(txn *badger.Txn) error {
		return walkDays(txn, "rk/"+org+"/", since, until, func(day string, rest []byte, v []byte) error {
			var row enricher.CostRow
			if err := decodeValue(v, &row); err != nil {
				return err
			}
			add(string(rest), row)
			return nil
		}, func(r *enricher.Record) {
			for m, c := range r.CostsByModel() {
				add(m, c)
			}
		}, org)
	})
	return out, err
}

func cutSlash(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// walkDays calls whole for every aggregate row of a day entirely inside [since, until), and
// partial for every record created in the rest of the range (the partial days at the ends).
func walkDays(txn *badger.Txn, prefix string, since, until int64, whole func(day string, rest, v []byte) error,
	partial func(*enricher.Record), org string) error {
	var first, last string // first and last whole day, inclusive
	if since > 0 {
		t := time.UnixMilli(since).UTC()
		d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		if !d.Equal(t) {
			d = d.AddDate(0, 0, 1)
		}
		first = dayOf(d)
	}
	if until > 0 {
		t := time.UnixMilli(until).UTC()
		last = dayOf(time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -1))
	}
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefix), PrefetchValues: true})
	for it.Seek([]byte(prefix + first)); it.ValidForPrefix([]byte(prefix)); it.Next() {
		k := it.Item().Key()[len(prefix):]
		day := string(k[:8])
		if last != "" && day > last {
			break
		}
		if first != "" && last != "" && first > last {
			break
		}
		if err := readValue(it.Item(), func(v []byte) error { return whole(day, k[9:], v) }); err != nil {
			it.Close()
			return err
		}
	}
	it.Close()
	// The partial days: [since, first day) and (last day, until).
	var ranges [][2]int64
	dayStart := func(d string) int64 {
		t, _ := time.Parse("20060102", d)
		return t.UnixMilli()
	}
	switch {
	case since > 0 && until > 0 && (first > last):
		ranges = append(ranges, [2]int64{since, until}) // within one day
	default:
		if since > 0 {
			ranges = append(ranges, [2]int64{since, dayStart(first)})
		}
		if until > 0 {
			ranges = append(ranges, [2]int64{dayStart(last) + 24*3600*1000, until})
		}
	}
	for _, r := range ranges {
		if r[0] >= r[1] {
			continue
		}
		if err := recordsCreatedIn(txn, org, r[0], r[1], partial); err != nil {
			return err
		}
	}
	return nil
}

// recordsCreatedIn calls fn with each record of org created in [from, to).
func recordsCreatedIn(txn *badger.Txn, org string, from, to int64, fn func(*enricher.Record)) error {
	prefix := []byte("rx/" + org + "/c/")
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	var ids []string
	for it.Seek(append(append([]byte{}, prefix...), hex16(uint64(from))...)); it.ValidForPrefix(prefix); it.Next() {
		k := it.Item().Key()[len(prefix):]
		b, err := hex.DecodeString(string(k[:16]))
		if err != nil || len(b) != 8 {
			return fmt.Errorf("bad record index key %q", k)
		}
		if int64(binary.BigEndian.Uint64(b)) >= to {
			break
		}
		ids = append(ids, string(k[17:]))
	}
	for _, id := range ids {
		var row recordRow
		if err := getJSON(txn, keyRecord(org, id), "record", &row); err != nil {
			return err
		}
		r := row.Record
		r.OrganizationID = org
		fn(&r)
	}
	return nil
}
