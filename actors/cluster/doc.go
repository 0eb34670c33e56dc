// Package cluster runs Entity Enricher on several nodes as one: nodes join a protoactor-go
// cluster (membership from etcd, Kubernetes or protoactor's automanaged provider), every job
// is a grain of kind "job" whose identity is the job id, placed on a node by consistent
// hashing over the members (disthash), and all state lives in the PostgreSQL database the
// nodes share.
//
// The grain is thin: on an Ensure it makes its node's engine run the job from storage
// (actors.Engine.Ensure: the recovery path a restart uses), and it carries cancel and continue
// requests from any node to the job (Command). The job itself runs in the engine of the
// node, fenced by a claim (a PostgreSQL advisory lock of that node's session, see
// storage/postgres.Locks) so that it never runs on two nodes at once, even while membership
// changes place its grain on two nodes for a moment.
//
// Every node runs a sweeper (no leader): every SweepInterval and on every membership change it
// lists the unfinished jobs whose claim no session holds (the jobs of a node that died, or
// stored and not yet started) and sends Ensure to their grains.
//
// A Node is a Placement for the engine (actors.Placement). Messages that cross nodes are the
// protobuf messages of messages.proto; regenerate messages.pb.go with `go generate` (protoc
// from Debian's protobuf-compiler, and protoc-gen-go installed with
// `go install google.golang.org/protobuf/cmd/protoc-gen-go@VERSION`, VERSION being the one of
// google.golang.org/protobuf in go.mod).
package cluster

//go:generate protoc --go_out=. --go_opt=paths=source_relative messages.proto
