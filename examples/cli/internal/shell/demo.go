package shell

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// cmdDemo runs the "Transparent Naming" walkthrough of Alluxio's unified-namespace page
// with this command's own verbs, on temporary directories: a state directory (whose root
// UFS is empty) and a local directory mounted at /demo. Each step is printed as the page
// shows it, then checked; a step that does not do what the page says fails the demo.
func cmdDemo(c *cli, keep bool) error {
	tmp, err := os.MkdirTemp("", "unifiedfs-demo-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Fprintf(c.stdout, "# keeping %s\n", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	d := &demo{parent: c, sub: &cli{ctx: c.ctx, stdin: c.stdin, stdout: c.stdout, stderr: c.stderr, tty: false, // its output is buffered per step
		stateDir: filepath.Join(tmp, "state"), overrides: map[string]string{}, ignoreSite: true, keepOpen: true}}
	defer func() {
		d.sub.keepOpen = false
		_ = d.sub.close()
	}()
	ufsDir := filepath.Join(tmp, "alluxio-demo")

	d.say("Create a temporary directory in the local file system that will be used as the under storage to mount:")
	d.shell("cd %s && mkdir alluxio-demo && touch alluxio-demo/hello", tmp)
	if err := os.Mkdir(ufsDir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(ufsDir, "hello"), nil, 0o644); err != nil {
		return err
	}

	d.say("Mount the local directory into the namespace and verify it appears:")
	if _, err := d.run("Mounted file://"+ufsDir+" at /demo", "mount", "/demo", "file://"+ufsDir); err != nil {
		return err
	}
	if _, err := d.run(" /demo/hello", "ls", "-R", "/"); err != nil { // shows /demo and /demo/hello
		return err
	}
	d.say("Metadata of content not created through the namespace is loaded the first time it is accessed:")
	if _, err := d.run(" /demo/hello", "ls", "/demo/hello"); err != nil {
		return err
	}

	d.say("Create a file under the mounted directory: it is not yet persisted to the UFS:")
	if _, err := d.run("/demo/hello2 has been created", "touch", "/demo/hello2"); err != nil {
		return err
	}
	if err := d.lsUFS(ufsDir, "hello"); err != nil {
		return err
	}

	d.say("After persisting the file, it is in the UFS with the same name:")
	if _, err := d.run("(1/1) Successfully persisted file: /demo/hello2", "persist", "/demo/hello2"); err != nil {
		return err
	}
	if err := d.lsUFS(ufsDir, "hello hello2"); err != nil {
		return err
	}

	d.say("Renaming a file in the namespace renames it in the UFS:")
	if _, err := d.run("Renamed /demo/hello2 to /demo/world", "mv", "/demo/hello2", "/demo/world"); err != nil {
		return err
	}
	if err := d.lsUFS(ufsDir, "hello world"); err != nil {
		return err
	}

	d.say("Deleting a file in the namespace deletes it in the UFS:")
	if _, err := d.run("/demo/world has been removed", "rm", "/demo/world"); err != nil {
		return err
	}
	if err := d.lsUFS(ufsDir, "hello"); err != nil {
		return err
	}

	d.say("Unmounting removes the directory from the namespace; the UFS keeps its data:")
	if _, err := d.run("Unmounted /demo", "unmount", "/demo"); err != nil {
		return err
	}
	out, err := d.run("", "ls", "-R", "/")
	if err != nil {
		return err
	}
	if strings.Contains(out, "/demo") {
		return fmt.Errorf("demo: ls -R / still shows /demo after unmount")
	}
	if err := d.lsUFS(ufsDir, "hello"); err != nil {
		return err
	}
	d.say("Transparent Naming walkthrough: every step behaved as documented.")
	return nil
}

type demo struct {
	parent *cli
	sub    *cli
}

func (d *demo) say(s string)                       { fmt.Fprintf(d.parent.stdout, "\n# %s\n", s) }
func (d *demo) shell(format string, a ...any)      { fmt.Fprintf(d.parent.stdout, "$ "+format+"\n", a...) }
func (d *demo) printf(format string, a ...any)     { fmt.Fprintf(d.parent.stdout, format, a...) }
func (d *demo) fail(format string, a ...any) error { return fmt.Errorf("demo: "+format, a...) }

// run prints and runs one verb on the demo's namespace and checks that its output
// contains want.
func (d *demo) run(want string, args ...string) (string, error) {
	d.shell("unifiedfs %s", strings.Join(args, " "))
	var out bytes.Buffer
	d.sub.stdout = &out
	err := d.sub.exec(args[0], args[1:])
	d.printf("%s", out.String())
	if err != nil {
		return "", fmt.Errorf("demo step %q: %w", strings.Join(args, " "), err)
	}
	if !strings.Contains(out.String(), want) {
		return "", d.fail("step %q printed no %q", strings.Join(args, " "), want)
	}
	return out.String(), nil
}

// lsUFS prints the UFS directory as `ls` would and checks its names.
func (d *demo) lsUFS(dir, want string) error {
	d.shell("ls %s", dir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	got := strings.Join(names, " ")
	d.printf("%s\n", got)
	if got != want {
		return d.fail("the UFS holds %q, want %q", got, want)
	}
	return nil
}
