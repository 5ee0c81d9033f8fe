// A container runtime's side of CNI for tests: loads a conflist and calls
// libcni (Debian's golang-github-appc-cni-dev), the library containerd and
// CRI-O use, so tern-cni is driven exactly as a real node drives it.
//
//	driver add|check|del CONFLIST CONTAINERID NETNS IFNAME POD_NAMESPACE POD_NAME
//	driver validate CONFLIST
//
// CNI_PATH (':'-separated) says where plugins are; CNI_CACHE_DIR where
// libcni keeps results between ADD and CHECK/DEL. add prints the result;
// validate the capabilities. A failure prints {"code", "msg", "details"}
// (code -1 when the error is libcni's own, not a plugin's) and exits 1.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
)

func fail(err error) {
	var te *types.Error
	out := map[string]interface{}{"code": -1, "msg": err.Error(), "details": ""}
	if errors.As(err, &te) {
		out = map[string]interface{}{"code": te.Code, "msg": te.Msg, "details": te.Details}
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
	os.Exit(1)
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: driver add|check|del CONFLIST CONTAINERID NETNS IFNAME POD_NAMESPACE POD_NAME | validate CONFLIST")
		os.Exit(2)
	}
	cmd, conf := os.Args[1], os.Args[2]
	list, err := libcni.ConfListFromFile(conf)
	if err != nil {
		fail(err)
	}
	cacheDir := os.Getenv("CNI_CACHE_DIR")
	if cacheDir == "" {
		cacheDir = filepath.Join(filepath.Dir(conf), "cache")
	}
	cni := libcni.NewCNIConfigWithCacheDir(strings.Split(os.Getenv("CNI_PATH"), ":"), cacheDir, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	if cmd == "validate" {
		caps, err := cni.ValidateNetworkList(ctx, list)
		if err != nil {
			fail(err)
		}
		fmt.Println(strings.Join(caps, " "))
		return
	}
	if len(os.Args) != 8 {
		fmt.Fprintln(os.Stderr, "driver: add|check|del take 6 arguments after the command")
		os.Exit(2)
	}
	rt := &libcni.RuntimeConf{
		ContainerID: os.Args[3],
		NetNS:       os.Args[4],
		IfName:      os.Args[5],
		// what kubelet's dockershim and containerd's CRI pass
		Args: [][2]string{
			{"IgnoreUnknown", "1"},
			{"K8S_POD_NAMESPACE", os.Args[6]},
			{"K8S_POD_NAME", os.Args[7]},
			{"K8S_POD_INFRA_CONTAINER_ID", os.Args[3]},
		},
	}
	switch cmd {
	case "add":
		res, err := cni.AddNetworkList(ctx, list, rt)
		if err != nil {
			fail(err)
		}
		if err := res.Print(); err != nil {
			fail(err)
		}
	case "check":
		if err := cni.CheckNetworkList(ctx, list, rt); err != nil {
			fail(err)
		}
	case "del":
		if err := cni.DelNetworkList(ctx, list, rt); err != nil {
			fail(err)
		}
	default:
		fmt.Fprintf(os.Stderr, "driver: unknown command %q\n", cmd)
		os.Exit(2)
	}
}
