// Command gitops-health reads objects as `kubectl get -o json` prints them (one object or a List)
// on stdin and prints, for each, what GitOps tools make of it: kstatus (sigs.k8s.io/cli-utils, as
// Flux and kpt read health) and Argo CD's health check deploy/argocd/health.lua run by gopher-lua,
// the Lua interpreter Argo CD embeds. One line per object:
//
//	NAMESPACE/NAME kstatus=STATUS argocd=STATUS message=...
package main

import (
	"fmt"
	"io"
	"os"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gitops-health HEALTH.lua < objects.json")
		os.Exit(2)
	}
	script, err := os.ReadFile(os.Args[1])
	check(err)
	input, err := io.ReadAll(os.Stdin)
	check(err)
	// Unstructured's own decoding keeps integers as int64, as kstatus expects.
	one := unstructured.Unstructured{}
	check(one.UnmarshalJSON(input))
	objects := []unstructured.Unstructured{one}
	if one.IsList() {
		list, err := one.ToList()
		check(err)
		objects = list.Items
	}
	for i := range objects {
		u := &objects[i]
		result, err := status.Compute(u)
		check(err)
		argo, message := argoHealth(string(script), u.Object)
		fmt.Printf("%s/%s kstatus=%s argocd=%s message=%s\n",
			u.GetNamespace(), u.GetName(), result.Status, argo, message)
	}
}

// argoHealth runs the health script as Argo CD does: the object as the global obj, a table with
// status and message returned.
func argoHealth(script string, obj map[string]interface{}) (string, string) {
	state := lua.NewState(lua.Options{SkipOpenLibs: false})
	defer state.Close()
	state.SetGlobal("obj", toLua(state, obj))
	check(state.DoString(script))
	returned, ok := state.Get(-1).(*lua.LTable)
	if !ok {
		fmt.Fprintln(os.Stderr, "gitops-health: the script returned no table")
		os.Exit(1)
	}
	return returned.RawGetString("status").String(), returned.RawGetString("message").String()
}

func toLua(state *lua.LState, value interface{}) lua.LValue {
	switch v := value.(type) {
	case map[string]interface{}:
		table := state.NewTable()
		for key, item := range v {
			table.RawSetString(key, toLua(state, item))
		}
		return table
	case []interface{}:
		table := state.NewTable()
		for _, item := range v {
			table.Append(toLua(state, item))
		}
		return table
	case string:
		return lua.LString(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case bool:
		return lua.LBool(v)
	default:
		return lua.LNil
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "gitops-health:", err)
		os.Exit(1)
	}
}
