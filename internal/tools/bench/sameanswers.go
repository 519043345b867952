package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
)

// SameAnswers asks two servers for each path and fails unless both answer
// it with the same status and byte-identical bodies (a guard for comparing
// a baseline with the service: it must do the same work). header goes with
// every request.
func SameAnswers(ctx context.Context, a, b string, header map[string]string, paths []string) error {
	for _, path := range paths {
		sa, ba, err := fetch(ctx, a+path, header)
		if err != nil {
			return err
		}
		sb, bb, err := fetch(ctx, b+path, header)
		if err != nil {
			return err
		}
		if sa != sb || !bytes.Equal(ba, bb) {
			return fmt.Errorf("GET %s: %s answered %d (%d bytes), %s answered %d (%d bytes):\n%.400s\n%.400s", path, a, sa, len(ba), b, sb, len(bb), ba, bb)
		}
	}
	return nil
}

func fetch(ctx context.Context, url string, header map[string]string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return res.StatusCode, body, err
}
