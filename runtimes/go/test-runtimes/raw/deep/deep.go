// Package deep is the work of the raw Go test runtime (runtimes/go/test-runtimes/raw):
// JSON in, a recursion deep enough to grow the goroutine's stack several times, JSON out.
package deep

import "encoding/json"

type request struct {
	ID    int    `json:"id"`
	Depth int    `json:"depth"`
	Text  string `json:"text"`
}

type answer struct {
	ID     int    `json:"id"`
	Depth  int    `json:"depth"`
	Levels int    `json:"levels"`
	Sum    int    `json:"sum"`
	Text   string `json:"text"`
}

// maxDepth keeps a bad request from exhausting the goroutine's stack (1 GB by default).
const maxDepth = 100000

// descend recurses n calls deep. Each frame keeps a buffer live across the recursive
// call, so the frames cannot be merged or made smaller; it returns the number of frames
// and the sum of the text's bytes added once per frame.
//
//go:noinline
func descend(n int, text string) (levels, sum int) {
	var buf [32]int
	for i := 0; i < len(text); i++ {
		buf[i%len(buf)] += int(text[i])
	}
	if n > 1 {
		levels, sum = descend(n-1, text)
	}
	for _, v := range buf {
		sum += v
	}
	return levels + 1, sum
}

// Work answers one request: rc 0 and the answer, or rc 1 and why the request is bad.
func Work(req []byte) (rc int, out []byte) {
	var in request
	if err := json.Unmarshal(req, &in); err != nil {
		return 1, []byte(err.Error())
	}
	if in.Depth < 1 || in.Depth > maxDepth {
		return 1, []byte("depth out of range")
	}
	levels, sum := descend(in.Depth, in.Text)
	out, err := json.Marshal(answer{ID: in.ID, Depth: in.Depth, Levels: levels, Sum: sum, Text: in.Text})
	if err != nil {
		return 1, []byte(err.Error())
	}
	return 0, out
}
