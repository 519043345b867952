package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/zeromicro/go-zero/core/conf"
	"github.com/zeromicro/go-zero/rest"

	"github.com/clinicaldata/projectsvc/internal/config"
	"github.com/clinicaldata/projectsvc/internal/server"
	"github.com/clinicaldata/projectsvc/internal/svc"
)

// PoolSettings are database/sql pool settings, named after the config keys.
type PoolSettings struct {
	MaxOpenConns    int
	MaxIdleConns    int
	ConnMaxLifetime time.Duration
	ConnMaxIdleTime time.Duration
}

func (p PoolSettings) String() string {
	idle := p.ConnMaxIdleTime.String()
	if p.ConnMaxIdleTime == 0 {
		idle = "none"
	}
	return fmt.Sprintf("%d open / %d idle / lifetime %s / idle time %s", p.MaxOpenConns, p.MaxIdleConns, p.ConnMaxLifetime, idle)
}

// GoZeroPool is what go-zero's sqlx.NewMysql hard-codes
// (core/stores/sqlx/sqlmanager.go: maxOpenConns, maxIdleConns, maxLifetime).
var GoZeroPool = PoolSettings{MaxOpenConns: 64, MaxIdleConns: 64, ConnMaxLifetime: time.Minute}

// PoolOf returns the pool settings of a config.
func PoolOf(c config.Config) PoolSettings {
	return PoolSettings{c.Mysql.MaxOpenConns, c.Mysql.MaxIdleConns, c.Mysql.ConnMaxLifetime, c.Mysql.ConnMaxIdleTime}
}

// BaseConfig loads the shipped config file (etc/project-api.yaml) as the
// service would, except that nothing listens beyond loopback: the REST
// server runs on a listener the bench owns, and the dev server (metrics,
// pprof) is moved to 127.0.0.1 on a free port. It also returns the pool
// defaults of config.Config itself (a config file without pool keys).
func BaseConfig(path string) (shipped config.Config, structDefaults PoolSettings, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return shipped, structDefaults, err
	}
	if err := conf.LoadFromYamlBytes(b, &shipped); err != nil {
		return shipped, structDefaults, fmt.Errorf("%s: %w", path, err)
	}
	shipped.Host = "127.0.0.1"
	if shipped.DevServer.Enabled {
		shipped.DevServer.Host = "127.0.0.1"
		port, err := freePort()
		if err != nil {
			return shipped, structDefaults, err
		}
		shipped.DevServer.Port = port
	}
	var bare config.Config
	if err := conf.LoadFromYamlBytes([]byte("Name: x\nPort: 1\nMysql:\n  DataSource: 'u:p@tcp(127.0.0.1:1)/db'\n"), &bare); err != nil {
		return shipped, structDefaults, err
	}
	return shipped, PoolOf(bare), nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Options is one variant of the service.
type Options struct {
	DSN      string // go-sql-driver DSN; the service adds its driver defaults
	Pool     PoolSettings
	Coalesce bool
	// Serial makes the three reads of a request run one after another (the
	// benchmark's baseline for the fan-out; see serializeReads).
	Serial bool
	// CpuThreshold is go-zero's load-shedding threshold (RestConf); 0, the
	// bench's default, turns shedding off. go-zero reads the CPU usage of
	// the process's cgroup, which on a shared bench machine includes the
	// database and the load generator, so shedding would measure them.
	CpuThreshold int64
}

// Service is one running instance of the service on a loopback port: the
// real router, middlewares and error table (rest.Server wrapped by
// rest.NewServerless), served by a plain http.Server.
type Service struct {
	URL string
	Svc *svc.ServiceContext
	srv *http.Server
}

// StartService builds the service on base with the variant's database
// settings and serves it on 127.0.0.1.
func StartService(base config.Config, o Options) (*Service, error) {
	c := base
	c.Mysql.DataSource = o.DSN
	c.Mysql.MaxOpenConns = o.Pool.MaxOpenConns
	c.Mysql.MaxIdleConns = o.Pool.MaxIdleConns
	c.Mysql.ConnMaxLifetime = o.Pool.ConnMaxLifetime
	c.Mysql.ConnMaxIdleTime = o.Pool.ConnMaxIdleTime
	c.Coalesce = o.Coalesce
	c.CpuThreshold = o.CpuThreshold
	if err := c.Validate(); err != nil {
		return nil, err
	}
	s, err := svc.NewServiceContext(c)
	if err != nil {
		return nil, err
	}
	if o.Serial {
		serializeReads(s)
	}
	srv, err := server.New(s)
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	if o.Serial {
		srv.Use(withRequestLock)
	}
	sl, err := rest.NewServerless(srv.Server)
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	timeout := time.Duration(c.Timeout) * time.Millisecond
	hs := &http.Server{
		Handler: http.HandlerFunc(sl.Serve),
		// What go-zero's own Start sets (rest/engine.go withNetworkTimeout).
		ReadTimeout:  4 * timeout / 5,
		WriteTimeout: 11 * timeout / 10,
	}
	go func() { _ = hs.Serve(ln) }()
	return &Service{URL: "http://" + ln.Addr().String(), Svc: s, srv: hs}, nil
}

// Close stops serving, then closes the pool.
func (s *Service) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if cerr := s.Svc.Close(); err == nil {
		err = cerr
	}
	return err
}

// WithParam adds key=value to a DSN's query string.
func WithParam(dsn, key, value string) string {
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + key + "=" + value
}
