package storage

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	gojson "github.com/goccy/go-json"
	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/storage/codectest"
)

// TestStoredValuesMatchGoJSON: the job snapshot, the record row and the record summary a
// commit stores (encoded by hand, enricher.AppendJob and AppendRecord) are the very bytes
// go-json, the previous encoder and still the reader, writes for the same values, so data
// directories written before and after read alike. Values: every field set
// (codectest.Fill), then random variants with fields zeroed, nil or empty and nasty strings.
func TestStoredValuesMatchGoJSON(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	rng := rand.New(rand.NewPCG(17, 9))
	for i := range 60 {
		j, r := &enricher.Job{}, &enricher.Record{}
		codectest.Fill(j)
		codectest.Fill(r)
		if i > 0 {
			vary(rng, reflect.ValueOf(j).Elem())
			vary(rng, reflect.ValueOf(r).Elem())
		}
		j.ID, j.OrganizationID, j.Status = "job-"+string(rune('a'+i%26)), "org", enricher.JobRunning
		r.ID, r.OrganizationID = "rec-"+string(rune('a'+i%26)), "org"
		require.NoError(t, db.Commit(&Batch{Jobs: []*enricher.Job{j}, Records: []*enricher.Record{r}}))

		snap := *j
		snap.Spec = nil
		sum := r.Summary()
		for _, c := range []struct {
			key  []byte
			want any
		}{
			{keyJob(j.OrganizationID, j.ID), &snap},
			{keyRecord(r.OrganizationID, r.ID), newRecordRow(r)},
			{keyRecordSummary(r.OrganizationID, r.ID), &sum},
		} {
			want, err := gojson.Marshal(c.want)
			require.NoError(t, err)
			var got []byte
			require.NoError(t, db.bdb.View(func(txn *badger.Txn) error {
				var ok bool
				got, ok, err = getRaw(txn, c.key)
				require.True(t, ok, "%s stored", c.key)
				return err
			}))
			require.Equal(t, string(want), string(got), "value %d at %s", i, c.key)
		}
	}
}

// TestStoredValueEncodingFails: a value json.Marshal cannot encode (a NaN cost) fails the
// commit with an encoding error instead of storing anything.
func TestStoredValueEncodingFails(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	bad := &enricher.Record{RecordSummary: enricher.RecordSummary{ID: "r", CostUSD: math.NaN()}, OrganizationID: "o"}
	require.ErrorContains(t, db.Commit(&Batch{Records: []*enricher.Record{bad}}), "encode r/o/r")
	_, err := db.Record("o", "r")
	require.True(t, enricher.IsKind(err, enricher.KindNotFound), "nothing stored: %v", err)
	job := &enricher.Job{ID: "j", OrganizationID: "o", Status: enricher.JobRunning, Result: json.RawMessage(`{"a":`)}
	require.ErrorContains(t, db.Commit(&Batch{Jobs: []*enricher.Job{job}}), "encode j/o/j")
}

// vary changes a filled value at random: it zeroes fields, sets pointers, slices and maps to
// nil or empty, and puts strings and numbers that test the encoders' escapes and formats.
func vary(rng *rand.Rand, v reflect.Value) {
	if !v.CanSet() {
		return
	}
	if v.Type() == reflect.TypeFor[enricher.Time]() {
		if rng.IntN(3) == 0 {
			v.SetZero()
		} else {
			v.Set(reflect.ValueOf(enricher.Time{Time: time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)).In(time.FixedZone("z", 3600*rng.IntN(12)))}))
		}
		return
	}
	if v.Kind() != reflect.Struct && rng.IntN(5) == 0 {
		v.SetZero()
		return
	}
	switch v.Kind() {
	case reflect.String:
		pieces := []string{"a", `"`, `\`, "<", ">", "&", "\n", "\x00", "\x7f", "\u2028", "\u2029", "é", "🙂", "\xff", "\xe2\x80", "/"}
		s := ""
		for range rng.IntN(6) {
			s += pieces[rng.IntN(len(pieces))]
		}
		v.SetString(s)
	case reflect.Int, reflect.Int64:
		v.SetInt(rng.Int64N(1<<40) - 1<<39)
	case reflect.Float64:
		v.SetFloat([]float64{0, 1e21, 1e20, 1e-6, 1e-7, -2.5e-9, 0.1 + 0.2, 123456.789, 1 << 60}[rng.IntN(9)])
	case reflect.Bool:
		v.SetBool(rng.IntN(2) == 0)
	case reflect.Pointer:
		vary(rng, v.Elem())
	case reflect.Slice:
		if v.Type() == reflect.TypeFor[json.RawMessage]() {
			v.SetBytes([]byte([]string{"null", ` { "a" : [ 1 , "<\u2028>" ] } `, `"\u00e9\/"`, "1e21", `[]`}[rng.IntN(5)]))
			return
		}
		if rng.IntN(4) == 0 {
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
			return
		}
		for i := range v.Len() {
			vary(rng, v.Index(i))
		}
	case reflect.Map:
		if rng.IntN(4) == 0 {
			v.Set(reflect.MakeMap(v.Type()))
		}
	case reflect.Struct:
		for i := range v.NumField() {
			vary(rng, v.Field(i))
		}
	}
}
