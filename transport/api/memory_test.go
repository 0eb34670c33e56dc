package api

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMemoryReliefAfterBigBodies(t *testing.T) {
	var released atomic.Int32
	m := &memoryRelief{quiet: 20 * time.Millisecond, release: func() { released.Add(1) }}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go m.loop(ctx, wg.Done)
	defer func() { cancel(); wg.Wait() }()

	m.note(bigBodyBytes - 1)
	time.Sleep(100 * time.Millisecond)
	require.Zero(t, released.Load(), "small bodies release nothing")

	for range 5 { // a burst: one release after it, not one per body
		m.note(bigBodyBytes)
	}
	require.Eventually(t, func() bool { return released.Load() == 1 }, 5*time.Second, 5*time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	require.EqualValues(t, 1, released.Load(), "nothing more to release until the next big body")

	m.note(8 << 20)
	require.Eventually(t, func() bool { return released.Load() == 2 }, 5*time.Second, 5*time.Millisecond)
}
