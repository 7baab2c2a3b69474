package shell

import (
	"fmt"
	"strings"
)

// usageError is a wrong invocation: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// flagSpec declares a verb's flags: bool flags and flags taking a value. Names are
// letters ("R") or words ("alluxioOnly"); both are written with one or two dashes.
type flagSpec struct {
	bools  []string
	values []string
}

// flags is a parsed verb command line.
type flags struct {
	verb string
	set  map[string]bool
	vals map[string][]string
	args []string
}

// has reports whether any of the bool flags names was given.
func (f *flags) has(names ...string) bool {
	for _, n := range names {
		if f.set[n] {
			return true
		}
	}
	return false
}

// value returns the last value of a value flag, or def.
func (f *flags) value(name, def string) string {
	if v := f.vals[name]; len(v) > 0 {
		return v[len(v)-1]
	}
	return def
}

// parseFlags parses argv (the verb's arguments) against spec, commons-cli style: flags
// may come anywhere, "--" ends them, "-Rf" combines one-letter bool flags, a value flag
// takes "--name=value", "--name value" or "-n value".
func parseFlags(verb, usage string, argv []string, spec flagSpec) (*flags, error) {
	f := &flags{verb: verb, set: map[string]bool{}, vals: map[string][]string{}}
	isBool := map[string]bool{}
	isVal := map[string]bool{}
	for _, b := range spec.bools {
		isBool[b] = true
	}
	for _, v := range spec.values {
		isVal[v] = true
	}
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		if a == "--" {
			f.args = append(f.args, argv[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			f.args = append(f.args, a)
			continue
		}
		name := strings.TrimLeft(a, "-")
		val, hasVal := "", false
		if j := strings.IndexByte(name, '='); j >= 0 {
			name, val, hasVal = name[:j], name[j+1:], true
		}
		switch {
		case name == "":
			return nil, usagef("unknown flag %s (usage: unifiedfs %s)", a, usage)
		case isBool[name] && !hasVal:
			f.set[name] = true
		case isVal[name]:
			if !hasVal {
				if i+1 >= len(argv) {
					return nil, usagef("flag %s needs a value", a)
				}
				i++
				val = argv[i]
			}
			f.vals[name] = append(f.vals[name], val)
		case !hasVal && !strings.HasPrefix(a, "--") && allBools(name[:len(name)-1], isBool) && (isBool[name[len(name)-1:]] || isVal[name[len(name)-1:]]):
			// combined one-letter flags: "-Rf", or "-Rc 10"
			for _, c := range name[:len(name)-1] {
				f.set[string(c)] = true
			}
			last := name[len(name)-1:]
			if isBool[last] {
				f.set[last] = true
				continue
			}
			if i+1 >= len(argv) {
				return nil, usagef("flag -%s needs a value", last)
			}
			i++
			f.vals[last] = append(f.vals[last], argv[i])
		default:
			return nil, usagef("unknown flag %s (usage: unifiedfs %s)", a, usage)
		}
	}
	return f, nil
}

func allBools(letters string, isBool map[string]bool) bool {
	for _, c := range letters {
		if !isBool[string(c)] {
			return false
		}
	}
	return true
}

// globalArgs are the options every verb accepts: --state DIR, --conf FILE and property
// overrides -Dkey=value (or -D key=value).
type globalArgs struct {
	state, conf string
	props       map[string]string
	rest        []string
}

// splitGlobal removes the global options from argv (up to a "--").
func splitGlobal(argv []string) (*globalArgs, error) {
	g := &globalArgs{props: map[string]string{}}
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		if a == "--" {
			g.rest = append(g.rest, argv[i:]...)
			break
		}
		takeValue := func(name string) (string, error) {
			if v, ok := strings.CutPrefix(a, name+"="); ok {
				return v, nil
			}
			if i+1 >= len(argv) {
				return "", usagef("%s needs a value", name)
			}
			i++
			return argv[i], nil
		}
		switch {
		case a == "--state" || strings.HasPrefix(a, "--state="):
			v, err := takeValue("--state")
			if err != nil {
				return nil, err
			}
			g.state = v
		case a == "--conf" || strings.HasPrefix(a, "--conf="):
			v, err := takeValue("--conf")
			if err != nil {
				return nil, err
			}
			g.conf = v
		case strings.HasPrefix(a, "-D"):
			kv := a[2:]
			if kv == "" {
				if i+1 >= len(argv) {
					return nil, usagef("-D needs key=value")
				}
				i++
				kv = argv[i]
			}
			k, v, ok := strings.Cut(kv, "=")
			if !ok || strings.TrimSpace(k) == "" {
				return nil, usagef("-D%s: want -Dkey=value, e.g. -Dalluxio.user.file.metadata.sync.interval=0", kv)
			}
			g.props[strings.TrimSpace(k)] = v
		default:
			g.rest = append(g.rest, a)
		}
	}
	return g, nil
}
