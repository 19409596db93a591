// Command tfgen writes the Pulumi schema of one of our bridgings:
// `tfgen random|time|docker schema --out DIR`. toolchain/build.sh embeds it into the provider
// binary it builds from <name>/cmd. One binary for the three, so the bridge's code generator
// is compiled and linked once.
package main

import (
	"fmt"
	"os"

	pftfgen "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfgen"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"

	"dd-assessment/toolchain/providers/docker"
	"dd-assessment/toolchain/providers/random"
	timeprovider "dd-assessment/toolchain/providers/time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: tfgen random|time|docker schema --out DIR")
		os.Exit(2)
	}
	name := os.Args[1]
	// The bridge's generators read their own arguments from os.Args.
	os.Args = append([]string{os.Args[0] + " " + name}, os.Args[2:]...)
	switch name {
	case "random":
		pftfgen.Main("random", random.Provider(nil))
	case "time":
		pftfgen.Main("time", timeprovider.Provider(nil))
	case "docker":
		info := docker.Provider(nil)
		tfgen.Main("docker", info.Version, info)
	default:
		fmt.Fprintf(os.Stderr, "tfgen: unknown provider %q (random, time or docker)\n", name)
		os.Exit(2)
	}
}
