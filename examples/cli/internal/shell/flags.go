package shell

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/unifiedfs/unifiedfs/ufs"
)

// usageError is a wrong invocation: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// flagKind is the type of value a flag binds.
type flagKind uint8

const (
	boolFlag     flagKind = iota // no value: present sets true
	stringFlag                   // the last value wins
	intFlag                      // a decimal integer
	sizeFlag                     // a byte count: 1024, 64KB, 8MB (ufs.ParseSize)
	durationFlag                 // milliseconds or a unit: 500, 30s, 5min (ufs.ParseDuration)
	stringsFlag                  // repeatable: every value is kept, in order
)

// flagDef is one declared flag: its names (the first is shown in the synopsis), the
// placeholder for its value, its help text and the option it is bound to.
type flagDef struct {
	names []string
	kind  flagKind
	arg   string
	usage string
	p     any
}

// flagSet declares a verb's flags, each bound to a field of the verb's options, as
// flag.FlagSet does for cmd/go: the synopsis and "help <verb>" are generated from the
// declarations, and a verb reads its options as typed fields, so a misspelt flag name
// is a compile error. Names are letters ("R") or words ("alluxioOnly"); "name|alias"
// declares aliases. Both are written with one or two dashes.
type flagSet struct {
	defs   []*flagDef
	byName map[string]*flagDef
}

func (s *flagSet) add(d *flagDef, names string) {
	d.names = strings.Split(names, "|")
	if s.byName == nil {
		s.byName = map[string]*flagDef{}
	}
	for _, n := range d.names {
		if n == "" || s.byName[n] != nil {
			panic("shell: flag name " + strconv.Quote(n) + " empty or declared twice") // a programming error in the verb table
		}
		s.byName[n] = d
	}
	s.defs = append(s.defs, d)
}

// Bool declares a flag without a value that sets *p.
func (s *flagSet) Bool(p *bool, names, usage string) {
	s.add(&flagDef{kind: boolFlag, usage: usage, p: p}, names)
}

// String declares a flag whose last value is stored in *p.
func (s *flagSet) String(p *string, names, arg, usage string) {
	s.add(&flagDef{kind: stringFlag, arg: arg, usage: usage, p: p}, names)
}

// Int declares a flag taking a decimal integer.
func (s *flagSet) Int(p *int, names, arg, usage string) {
	s.add(&flagDef{kind: intFlag, arg: arg, usage: usage, p: p}, names)
}

// Size declares a flag taking a byte count (1024, 64KB, 8MB).
func (s *flagSet) Size(p *int64, names, arg, usage string) {
	s.add(&flagDef{kind: sizeFlag, arg: arg, usage: usage, p: p}, names)
}

// Duration declares a flag taking milliseconds, as Alluxio's, or a value with a unit
// (30s, 5min, 1h).
func (s *flagSet) Duration(p *time.Duration, names, arg, usage string) {
	s.add(&flagDef{kind: durationFlag, arg: arg, usage: usage, p: p}, names)
}

// Strings declares a repeatable flag: each value is appended to *p.
func (s *flagSet) Strings(p *[]string, names, arg, usage string) {
	s.add(&flagDef{kind: stringsFlag, arg: arg, usage: usage, p: p}, names)
}

// flagName is how a flag is written: "-R" for a letter, "--alluxioOnly" for a word.
func flagName(n string) string {
	if len(n) == 1 {
		return "-" + n
	}
	return "--" + n
}

// synopsis is the flags part of the usage line: "[-R] [--sort field] [--option key=value ...]".
func (s *flagSet) synopsis() string {
	var parts []string
	for _, d := range s.defs {
		p := "[" + flagName(d.names[0])
		if d.kind != boolFlag {
			p += " " + d.arg
		}
		if d.kind == stringsFlag {
			p += " ..."
		}
		parts = append(parts, p+"]")
	}
	return strings.Join(parts, " ")
}

// printDefaults writes one line per flag: its names, its value and its help.
func (s *flagSet) printDefaults(w io.Writer) {
	for _, d := range s.defs {
		names := make([]string, len(d.names))
		for i, n := range d.names {
			names[i] = flagName(n)
		}
		head := strings.Join(names, ", ")
		if d.kind != boolFlag {
			head += " " + d.arg
		}
		fmt.Fprintf(w, "    %-28s %s\n", head, d.usage)
	}
}

// set stores one value of a flag that takes one.
func (d *flagDef) set(written, v string) error {
	switch p := d.p.(type) {
	case *string:
		*p = v
	case *[]string:
		*p = append(*p, v)
	case *int:
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return usagef("%s wants an integer, not %q", written, v)
		}
		*p = n
	case *int64:
		n, err := ufs.ParseSize(v)
		if err != nil {
			return usagef("%s wants a byte count such as 100, 1KB, 8MB, not %q", written, v)
		}
		*p = n
	case *time.Duration:
		t, err := ufs.ParseDuration(v)
		if err != nil || t < 0 {
			return usagef("%s wants milliseconds or a duration such as 500, 30s, 5min, not %q", written, v)
		}
		*p = t
	}
	return nil
}

// parse parses argv (the verb's arguments) into the bound options and returns the
// positional arguments, commons-cli style: flags may come anywhere, "--" ends them, "-Rf"
// combines one-letter bool flags (the last letter may take a value: "-Rc 10"), a value
// flag takes "--name=value", "--name value" or "-n value". usage is the verb's usage line,
// quoted in errors, which are *usageError.
func (s *flagSet) parse(usage string, argv []string) ([]string, error) {
	var args []string
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		if a == "--" {
			args = append(args, argv[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			args = append(args, a)
			continue
		}
		name := strings.TrimLeft(a, "-")
		val, hasVal := "", false
		if j := strings.IndexByte(name, '='); j >= 0 {
			name, val, hasVal = name[:j], name[j+1:], true
		}
		d := s.byName[name]
		switch {
		case name == "" || strings.HasPrefix(a, "---"):
			return nil, usagef("unknown flag %s (usage: unifiedfs %s)", a, usage)
		case d != nil && d.kind == boolFlag:
			if hasVal {
				return nil, usagef("flag %s takes no value (usage: unifiedfs %s)", a, usage)
			}
			*d.p.(*bool) = true
		case d != nil:
			if !hasVal {
				if i+1 >= len(argv) {
					return nil, usagef("flag %s needs a value (usage: unifiedfs %s)", a, usage)
				}
				i++
				val = argv[i]
			}
			if err := d.set(a, val); err != nil {
				return nil, err
			}
		case !hasVal && !strings.HasPrefix(a, "--") && s.combined(name):
			for _, c := range name[:len(name)-1] {
				*s.byName[string(c)].p.(*bool) = true
			}
			last := s.byName[name[len(name)-1:]]
			if last.kind == boolFlag {
				*last.p.(*bool) = true
				continue
			}
			if i+1 >= len(argv) {
				return nil, usagef("flag -%s needs a value (usage: unifiedfs %s)", last.names[0], usage)
			}
			i++
			if err := last.set("-"+name[len(name)-1:], argv[i]); err != nil {
				return nil, err
			}
		default:
			return nil, usagef("unknown flag %s (usage: unifiedfs %s)", a, usage)
		}
	}
	return args, nil
}

// combined reports whether letters are one-letter bool flags, the last of which may
// take a value.
func (s *flagSet) combined(letters string) bool {
	for i, c := range letters {
		d := s.byName[string(c)]
		if d == nil || d.kind != boolFlag && i < len(letters)-1 {
			return false
		}
	}
	return len(letters) > 1
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
