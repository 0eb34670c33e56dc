package storage

import (
	"errors"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEntityEnds writes marks out of index order across several windows, one without an
// event and one whose event is missing, and reads them back in index order.
func TestEntityEnds(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	const n = 3*entityEndsWindow + 5
	var b Batch
	for i := n - 1; i >= 0; i-- { // entities end out of order
		seq := int64(n - i + 1)
		switch i {
		case 10: // cancelled while it ran: no event
			b.Finished = append(b.Finished, EntityMark{JobID: "j1", Index: i})
			continue
		case 11: // its event is gone
			b.Finished = append(b.Finished, EntityMark{JobID: "j1", Index: i, Seq: 99999})
			continue
		}
		b.Events = append(b.Events, EventEntry{JobID: "j1", Seq: seq, Data: []byte(`{"entity_index":` + strconv.Itoa(i) + `}`)})
		b.Finished = append(b.Finished, EntityMark{JobID: "j1", Index: i, Seq: seq})
	}
	b.Finished = append(b.Finished, EntityMark{JobID: "j2", Index: 0, Seq: 1}) // another job
	require.NoError(t, db.Commit(&b))

	var got []EntityEnd
	require.NoError(t, db.EntityEnds("j1", func(e EntityEnd) error { got = append(got, e); return nil }))
	require.Len(t, got, n)
	for i, e := range got {
		require.Equal(t, i, e.Index, "index order")
		switch i {
		case 10:
			require.Zero(t, e.Seq)
			require.Nil(t, e.Event)
		case 11:
			require.Nil(t, e.Event)
		default:
			require.Equal(t, `{"entity_index":`+strconv.Itoa(i)+`}`, string(e.Event))
			require.EqualValues(t, n-i+1, e.Seq)
		}
	}
	finished, err := db.FinishedEntities("j1")
	require.NoError(t, err)
	require.Len(t, finished, n, "recovery still reads the marks")

	stop := errors.New("stop")
	calls := 0
	err = db.EntityEnds("j1", func(EntityEnd) error { calls++; return stop })
	require.ErrorIs(t, err, stop)
	require.Equal(t, 1, calls)
}
