package shell

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/unifiedfs/unifiedfs"
)

// runTests mirrors Alluxio's TestRunner: every read type x write type x operation writes
// <directory>/default_tests_files/<OP>_<READ>_<WRITE>, reads it back and verifies it.
var (
	testReadTypes  = []unifiedfs.ReadType{unifiedfs.CachePromote, unifiedfs.Cache, unifiedfs.NoCache}
	testWriteTypes = []unifiedfs.WriteType{unifiedfs.MustCache, unifiedfs.CacheThrough, unifiedfs.Through, unifiedfs.AsyncThrough}
	testOperations = []string{"BASIC", "BASIC_NON_BYTE_BUFFER"}
)

// testDirName is Alluxio's TEST_DIRECTORY_NAME.
const testDirName = "default_tests_files"

// testInts is how many integers a case writes (as Alluxio's BasicNonByteBufferOperations).
const testInts = 20

// runTestsOptions are runTests' flags.
type runTestsOptions struct {
	directory, operation, readType, writeType string
}

func cmdRunTests(c *cli, o *runTestsOptions) error {
	base, err := nsPath(o.directory)
	if err != nil {
		return err
	}
	reads, writes, ops := testReadTypes, testWriteTypes, testOperations
	if v := o.readType; v != "" {
		r, err := unifiedfs.ParseReadType(v)
		if err != nil {
			return usagef("--readType wants NO_CACHE, CACHE or CACHE_PROMOTE")
		}
		reads = []unifiedfs.ReadType{r}
	}
	if v := o.writeType; v != "" {
		w, err := unifiedfs.ParseWriteType(v)
		if err != nil {
			return usagef("--writeType wants MUST_CACHE, CACHE_THROUGH, THROUGH or ASYNC_THROUGH")
		}
		writes = []unifiedfs.WriteType{w}
	}
	if v := o.operation; v != "" {
		v = strings.ToUpper(v)
		if v != "BASIC" && v != "BASIC_NON_BYTE_BUFFER" {
			return usagef("--operation wants BASIC or BASIC_NON_BYTE_BUFFER")
		}
		ops = []string{v}
	}
	dir := path.Join(base, testDirName)
	if err := c.fsys.Delete(c.ctx, dir, unifiedfs.DeleteOptions{Recursive: true}); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := c.fsys.MkdirAll(c.ctx, dir); err != nil {
		return err
	}
	failed := 0
	for _, r := range reads {
		for _, w := range writes {
			for _, op := range ops {
				p := fmt.Sprintf("%s/%s_%s_%s", dir, op, r, w)
				if err := c.runTest(p, op, r, w); err != nil {
					failed++
					fmt.Fprintf(c.stdout, "runTest %s %s %s: Failed the test! %s\n", op, r, w, oneLine(err))
					continue
				}
				fmt.Fprintf(c.stdout, "runTest %s %s %s: Passed the test! %s\n", op, r, w, p)
			}
		}
	}
	// Queued ASYNC_THROUGH persists finish before the exit: Close waits for them.
	if err := c.close(); err != nil {
		fmt.Fprintf(c.stdout, "Failed to finish asynchronous persists: %s\n", oneLine(err))
		failed++
	}
	if failed > 0 {
		fmt.Fprintf(c.stdout, "Number of failed tests: %d\n", failed)
		return exitCode(failed)
	}
	return nil
}

// testData is the content every case writes: testInts big-endian int32s 0, 1, 2, ...
func testData() []byte {
	var b bytes.Buffer
	for i := int32(0); i < testInts; i++ {
		_ = binary.Write(&b, binary.BigEndian, i)
	}
	return b.Bytes()
}

// runTest writes p with write type w (BASIC: one buffer; BASIC_NON_BYTE_BUFFER: one
// integer at a time), checks its persist state, then reads it with read type r (BASIC:
// ReadAt of the whole file; the other: integers from a stream) and compares.
func (c *cli) runTest(p, op string, r unifiedfs.ReadType, w unifiedfs.WriteType) error {
	want := testData()
	wr, err := c.fsys.Create(c.ctx, p, unifiedfs.CreateOptions{WriteType: w})
	if err != nil {
		return err
	}
	if op == "BASIC" {
		_, err = wr.Write(want)
	} else {
		bw := bufio.NewWriterSize(wr, 16)
		for i := int32(0); i < testInts && err == nil; i++ {
			err = binary.Write(bw, binary.BigEndian, i)
		}
		if err == nil {
			err = bw.Flush()
		}
	}
	if err != nil {
		wr.Abort()
		return err
	}
	if err := wr.Close(); err != nil {
		return err
	}
	st, err := c.fsys.GetStatus(c.ctx, p)
	if err != nil {
		return err
	}
	if st.Size != int64(len(want)) {
		return fmt.Errorf("%s: size %d after writing %d bytes", p, st.Size, len(want))
	}
	switch ps := st.PersistState; {
	case w == unifiedfs.MustCache && ps != unifiedfs.NotPersisted,
		(w == unifiedfs.CacheThrough || w == unifiedfs.Through) && ps != unifiedfs.Persisted,
		w == unifiedfs.AsyncThrough && ps != unifiedfs.ToBePersisted && ps != unifiedfs.Persisted:
		return fmt.Errorf("%s: persist state %s after a %s write", p, ps, w)
	}
	f, err := c.fsys.OpenFile(c.ctx, p, unifiedfs.OpenOptions{ReadType: r})
	if err != nil {
		return err
	}
	defer f.Close()
	file, ok := f.(*unifiedfs.File)
	if !ok {
		return fmt.Errorf("%s: opened as a directory", p)
	}
	got := make([]byte, len(want))
	if op == "BASIC" {
		n, err := file.ReadAt(got, 0)
		if err != nil && !(errors.Is(err, io.EOF) && n == len(got)) {
			return err
		}
	} else {
		br := bufio.NewReaderSize(file, 16)
		for i := int32(0); i < testInts; i++ {
			var v int32
			if err := binary.Read(br, binary.BigEndian, &v); err != nil {
				return fmt.Errorf("%s: reading integer %d: %w", p, i, err)
			}
			if v != i {
				return fmt.Errorf("%s: integer %d reads %d", p, i, v)
			}
		}
		copy(got, want)
		if n, _ := br.Read(make([]byte, 1)); n != 0 {
			return fmt.Errorf("%s: longer than written", p)
		}
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("%s: content differs from what was written", p)
	}
	return nil
}
