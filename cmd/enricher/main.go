// Command enricher runs the Entity Enricher server (`enricher serve`) and its batch command
// line client (`enricher enrich`).
//
// Configuration comes from ENRICHER_* environment variables and flags (see `enricher serve -h`
// and the README); provider credentials from the vendors' usual variables (ANTHROPIC_API_KEY,
// OPENAI_API_KEY, ...). main only parses the command line; the work is in Main so that tests
// can run the real server in-process.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

const usage = `usage: enricher <command> [flags]

commands:
  serve     run the server (enricher serve -h lists every setting)
  enrich    enrich a JSON, NDJSON or CSV file of entities on a server (enricher enrich -h)
  version   print the version
`

// run executes one command and returns the process exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		cfg, err := parseConfig(args[1:], getenv, stdout)
		if errors.Is(err, flag.ErrHelp) {
			return 0 // the settings were listed on stdout
		}
		if err != nil {
			fmt.Fprintf(stderr, "enricher serve: %s (enricher serve -h lists every setting)\n", oneLine(err))
			return 2
		}
		m, err := Open(cfg, Env{Getenv: getenv, Log: stderr})
		if err != nil {
			fmt.Fprintf(stderr, "enricher serve: %s\n", oneLine(err))
			return 1
		}
		if err := m.Run(ctx); err != nil {
			fmt.Fprintf(stderr, "enricher serve: %s\n", oneLine(err))
			return 1
		}
		return 0
	case "enrich":
		return runEnrich(ctx, args[1:], getenv, os.Stdin, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, version)
		return 0
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "enricher: unknown command %q\n\n%s", args[0], usage)
	return 2
}

// oneLine renders err on a single line (errors.Join puts one error per line), so a failed start
// is one line a user can read and a script can grep.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}
