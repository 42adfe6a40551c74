"""The texts printed by --help (USAGE) and --deviations (DEVIATIONS)."""

USAGE = """tnginx.py - a small, honest runner for Test::Nginx `.t` files.

The real Test::Nginx (openresty/test-nginx, Perl) cannot be installed on our
CI machines, so this script runs the same `.t` files with the Python 3
standard library only.  It mimics Test::Nginx::Socket(::Lua) behaviour for a
documented subset of the format and *fails* a block (with a clear reason)
whenever the block uses something outside that subset.  It never silently
passes a check it does not understand.

Usage:
    python3 ci/tnginx.py [-v] t/001-foo.t t/002-bar.t ...
    python3 ci/tnginx.py [-v] t/            # every *.t in the directory, sorted

Environment (same meaning as in Test::Nginx):
    TEST_NGINX_BINARY         nginx binary (default: `nginx` on PATH, else /usr/sbin/nginx)
    TEST_NGINX_LOAD_MODULES   space separated .so paths -> `load_module` lines (in order)
    TEST_NGINX_SERVER_PORT    listen port (default 1984; TEST_NGINX_PORT is an alias)
    TEST_NGINX_CLIENT_PORT    port the client connects to (default: server port)
    TEST_NGINX_SERVROOT       server root (default: t/servroot relative to cwd)
    TEST_NGINX_LOG_LEVEL      default error_log level (default: debug)
    TEST_NGINX_MASTER_PROCESS default master_process (default: off)
    TEST_NGINX_TIMEOUT        default client timeout in seconds (default: 3)
    TEST_NGINX_SLEEP          base sleep (default 0.015; error.log is read 3x this after a request)
    TEST_NGINX_WORKER_USER    `user` directive (default: `user root;` when running as root)
    TEST_NGINX_EVENT_TYPE     `use <type>;` in the events block
    TEST_NGINX_INIT_BY_LUA    injected into init_by_lua(_block) like Test::Nginx::Socket::Lua
    TEST_NGINX_CHECK_ACCUM_ERR_LOG  error_log checks see the whole error.log
    TEST_NGINX_FORCE_RESTART_ON_TEST=0  keep nginx running when `--- config` is unchanged
    TEST_NGINX_FAST_SHUTDOWN  stop nginx with SIGTERM instead of SIGQUIT
    TEST_NGINX_LD_PRELOAD     prepended to LD_PRELOAD for nginx
    TEST_NGINX_NO_CLEAN       leave the last nginx running after a normal exit
    TEST_NGINX_USE_VALGRIND   run nginx under valgrind (see "Valgrind mode" below)
    TEST_NGINX_VALGRIND_EXIT_ON_FIRST_ERR  add --exit-on-first-error=yes --error-exitcode=1
    TEST_NGINX_*              any other one is substituted for $TEST_NGINX_NAME in
                              config sections (main_config, http_config, config,
                              post_main_config), pipelined_requests,
                              response_body and grep_error_log_out - exactly where
                              Test::Nginx expands them.  (Test::Nginx does NOT expand
                              them in `--- request`; neither do we - we warn instead.)

Output: one line per block, `ok N - FILE TEST k: name` / `not ok N - ...`,
followed by indented reasons (and the tail of the block's part of error.log on
failure).  The last line is always `N passed, N failed` (plus `, N skipped`).
Exit status is 0 iff nothing failed and at least one block ran.

Supported sections (anything else fails the block with "unsupported section"):
    config http_config main_config post_main_config server_name
    request (string, or `eval` array of strings) pipelined_requests (eval array)
    more_headers shutdown abort timeout wait ignore_response log_level
    error_code error_code_like
    response_body response_body_like response_body_unlike
    response_headers response_headers_like
    raw_response_headers_like raw_response_headers_unlike
    error_log no_error_log grep_error_log grep_error_log_out
    shutdown_error_log no_shutdown_error_log access_log no_access_log
    skip_nginx no_check_leak suppress_stderr no_http2 no_http3 no_mockeagain
    ONLY SKIP LAST
Section filters (Test::Base): norm and trim (always, as in Test::Base), eval,
chomp, chop, unchomp, -trim, -norm.

Supported `eval` Perl: string literals ("..." with escapes, '...', q//, qq//),
qr//imsx regexes, numbers, [ ... ] arrays, ( ... ) lists, qw(), the `.`, `x`,
`+ - * / %` operators, list repetition `(LIST) x N`, $ENV{NAME}, `$::var`
variables assigned in the preamble, undef, and chr/join/lc/uc/length/cwd.
Anything else -> the block fails with "unsupported Perl syntax".

Valgrind mode (TEST_NGINX_USE_VALGRIND, as in Test::Nginx::Util):
    nginx runs in the foreground (`daemon off;`, master_process as configured,
    default off) as `valgrind --num-callers=100 -q --tool=memcheck
    --leak-check=full --keep-debuginfo=yes --show-possibly-lost=no
    --gen-suppressions=all [--suppressions=valgrind.suppress] nginx ...` when
    the variable is a number; any other value is the valgrind option string
    (`valgrind -q $TEST_NGINX_USE_VALGRIND nginx ...`).  ./valgrind.suppress is
    used when it exists, as in Test::Nginx.  nginx is stopped (SIGQUIT) after
    every block, as Test::Nginx does in this mode, so each report belongs to
    one block.  Our additions:
    TEST_NGINX_VALGRIND_SUPPRESSIONS  more suppression files (`:` separated)
    TEST_NGINX_VALGRIND_LOG   append every report to this file, each headed by
                              `=== tnginx-valgrind: FILE BLOCK (pid N)`; unset:
                              reports go to stderr (where Test::Nginx shows them)
    TEST_NGINX_VALGRIND_START_TIMEOUT  seconds to wait for nginx to listen (60)
    TEST_NGINX_VALGRIND_STOP_TIMEOUT   seconds to wait for it to exit (120)
    Valgrind reports never fail a block (neither do they in Test::Nginx); a
    WARNING under the block says how many lines valgrind wrote.

Known deviations from the real Test::Nginx are listed in DEVIATIONS below and
printed with --deviations.
"""

DEVIATIONS = r"""
Known deviations from the real Test::Nginx (openresty/test-nginx):
 * Blocks always run in file order; Test::Nginx shuffles them unless
   no_shuffle() is called (or TEST_NGINX_NO_SHUFFLE is set).
 * One result line per block, not one TAP assertion per check; `plan` is
   ignored (Test::Nginx would also complain about a wrong test count).
 * Situations where Test::Nginx bails out of the whole file (bad section
   values, arrays missing for `request eval`, undefined $TEST_NGINX_ vars, nginx
   failing to start) only fail the current block here.
 * nginx start is retried only for "Address already in use" (up to 5 s);
   Test::Nginx retries any start failure for 30 s before bailing out.
 * Stopping nginx waits up to 10 s (Test::Nginx: 3 s) before SIGKILL.
 * Perl is not available: `eval` sections and preamble statements are
   interpreted by a small evaluator (see the module doc string).  Unknown
   preamble statements are ignored with a WARNING.
 * Perl regexes are translated to Python `re` (with re.ASCII); \z, \Z, \h,
   \Q..\E, (?<name>), \k<name>, POSIX [:classes:] are translated, other
   Perl-only constructs make the block fail.
 * Lines `qr/.../` in a non-eval error_log/no_error_log section are literal
   substrings (as in Test::Nginx); we print a WARNING since that is almost
   never what the author meant.
 * TEST_NGINX_USE_HUP / USE_STAP / CHECK_LEAK / BENCHMARK /
   RANDOMIZE / USE_HTTP2 / USE_HTTP3 / USE_RR / NO_NGINX_MANAGER modes are
   not implemented (a WARNING is printed; the normal mode is used).
 * TEST_NGINX_USE_VALGRIND: valgrind writes to per-process files
   (--log-file=...%p, so a master and its workers do not interleave) that
   we copy to stderr or TEST_NGINX_VALGRIND_LOG once nginx has exited;
   Test::Nginx lets valgrind write to its own stderr.  We wait until nginx
   listens (up to TEST_NGINX_VALGRIND_START_TIMEOUT) instead of sleeping
   TEST_NGINX_SLEEP once, and wait up to TEST_NGINX_VALGRIND_STOP_TIMEOUT
   for it to exit (Test::Nginx sends SIGKILL after about 20 x
   TEST_NGINX_SLEEP + 1 s, which can cut off valgrind's leak report).  The
   keepalive_timeout is not lengthened (it is a fixed 68 s here anyway).
 * Unknown sections fail the block (Test::Nginx silently ignores them).
 * `--- SKIP` blocks and blocks not run because of ONLY/LAST are reported
   as skipped (Test::Base silently drops them).
 * Before starting nginx we check that the port is free (reads
   /proc/net/tcp) and fail the block with a clear message if it is not.
 * "\x{100}" and wider characters in eval strings are refused (Perl would
   compare a character string with the response bytes).
Faithful on purpose (these surprise people, but the real one does the same):
 * `--- error_code` on its own line keeps its trailing newline ("200\n")
   and does not equal "200"; use `--- error_code: 200`.
 * $TEST_NGINX_* variables are NOT expanded in `--- request`.
 * A block without `--- config` reuses the running nginx (no restart) and
   its error_log checks see the whole error.log.
 * With `--- request eval` arrays, every check section must be an array,
   and error_log / no_error_log are checked after each request against the
   part of error.log written since the previous check.
 * Test::Base's default filters `norm` + `trim` apply to every section, so a
   section keeps exactly one trailing newline (response_body_like patterns
   included, unless written inline `--- response_body_like: ...` or with
   the `chomp` filter).
"""
