package main

import (
	"fmt"
	"strings"
	"time"
)

// profile is a named load shape, after the two modes that the workstation
// this project replaces compared.
type profile struct {
	name, help  string
	mode        string // modeOnline or modeBatchAPI
	concurrency int
	retries     int
	retryBase   time.Duration
	retryMax    time.Duration
}

// Profile names.
const (
	profileHighParallelism = "high-parallelism"
	profileInngest         = "inngest-style"
	profileBatchAPI        = "batch-api"
)

// profiles returns the known profiles, in the order they are listed.
func profiles() []profile {
	return []profile{
		{name: profileHighParallelism, help: "50 concurrent requests, no retries",
			mode: modeOnline, concurrency: 50, retries: 0},
		{name: profileInngest, help: "a durable job queue: 10 concurrent requests, each retried\n" +
			"up to 5 times with exponential backoff: 1s, 2s, 4s, 8s, 16s\n" +
			"(at most 30s), each stretched by a random 0-15% as Inngest\n" +
			"does, never shorter; Retry-After honoured instead when sent",
			mode: modeOnline, concurrency: 10, retries: 5, retryBase: time.Second, retryMax: 30 * time.Second},
		{name: profileBatchAPI, help: "all requests as one OpenAI Batch API job (--mode batch-api):\n" +
			"upload, create (24h window), poll every --batch-poll,\n" +
			"download; makespan and throughput, no TTFT (n/a)",
			mode: modeBatchAPI},
	}
}

// profileNames returns the names of the profiles.
func profileNames() []string {
	var out []string
	for _, p := range profiles() {
		out = append(out, p.name)
	}
	return out
}

// findProfile returns the profile called name.
func findProfile(name string) (profile, error) {
	for _, p := range profiles() {
		if p.name == name {
			return p, nil
		}
	}
	return profile{}, fmt.Errorf("unknown profile %q (known: %s)", name, strings.Join(profileNames(), ", "))
}

// profilesHelp lists the profiles for --help.
func profilesHelp() string {
	var b strings.Builder
	for _, p := range profiles() {
		help := strings.ReplaceAll(p.help, "\n", "\n"+strings.Repeat(" ", 21))
		fmt.Fprintf(&b, "  %-18s %s\n", p.name, help)
	}
	return b.String()
}

// apply sets the load of o from the profile, except where a flag was given.
func (p profile) apply(o *loadOptions) {
	if !o.set.mode {
		o.mode = p.mode
	}
	if !o.set.concurrency {
		o.concurrency = p.concurrency
	}
	if !o.set.retries {
		o.retries = p.retries
	}
	if !o.set.retryBase && p.retryBase > 0 {
		o.retryBase = p.retryBase
	}
	if !o.set.retryMax && p.retryMax > 0 {
		o.retryMax = p.retryMax
	}
}
