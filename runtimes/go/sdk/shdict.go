package restyffi

/*
#cgo CFLAGS: -I${SRCDIR}/../../../abi
#cgo LDFLAGS: -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include "resty_ffi.h"

// nginx's shared dictionaries, looked up at run time like the task functions: a module
// without them fails SharedDict, not the runtime's load.
typedef void *(*rf_shdict_fn)(const char *name, size_t len, const char **err);
typedef int (*rf_shdict_get_fn)(void *dict, const char *key, size_t key_len, int *type,
    char **str, size_t *str_len, double *num, int *flags, const char **err);
typedef int (*rf_shdict_store_fn)(void *dict, int op, const char *key, size_t key_len,
    int type, const char *str, size_t str_len, double num, long exptime_ms, int flags,
    int *forcible, const char **err);
typedef int (*rf_shdict_incr_fn)(void *dict, const char *key, size_t key_len, double delta,
    int has_init, double init, long init_ttl_ms, double *value, int *forcible,
    const char **err);
typedef long (*rf_shdict_ttl_fn)(void *dict, const char *key, size_t key_len);
typedef int (*rf_shdict_expire_fn)(void *dict, const char *key, size_t key_len, long ms);

typedef struct {
	void *open, *get, *store, *incr, *ttl, *expire;
} rf_shdict_abi;

// 0 when every function is there.
static int rf_shdict_bind(rf_shdict_abi *a) {
	a->open = dlsym(RTLD_DEFAULT, "ngx_http_resty_ffi_shdict");
	a->get = dlsym(RTLD_DEFAULT, "ngx_http_resty_ffi_shdict_get");
	a->store = dlsym(RTLD_DEFAULT, "ngx_http_resty_ffi_shdict_store");
	a->incr = dlsym(RTLD_DEFAULT, "ngx_http_resty_ffi_shdict_incr");
	a->ttl = dlsym(RTLD_DEFAULT, "ngx_http_resty_ffi_shdict_ttl");
	a->expire = dlsym(RTLD_DEFAULT, "ngx_http_resty_ffi_shdict_expire");
	return a->open && a->get && a->store && a->incr && a->ttl && a->expire ? 0 : -1;
}

static void *rf_shdict_open(rf_shdict_abi *a, const char *name, size_t len, const char **err) {
	return ((rf_shdict_fn)a->open)(name, len, err);
}

static int rf_shdict_get(rf_shdict_abi *a, void *dict, const char *key, size_t key_len,
    int *type, char **str, size_t *str_len, double *num, int *flags, const char **err) {
	return ((rf_shdict_get_fn)a->get)(dict, key, key_len, type, str, str_len, num, flags, err);
}

static int rf_shdict_store(rf_shdict_abi *a, void *dict, int op, const char *key,
    size_t key_len, int type, const char *str, size_t str_len, double num, long ms,
    int flags, int *forcible, const char **err) {
	return ((rf_shdict_store_fn)a->store)(dict, op, key, key_len, type, str, str_len, num,
	    ms, flags, forcible, err);
}

static int rf_shdict_incr(rf_shdict_abi *a, void *dict, const char *key, size_t key_len,
    double delta, int has_init, double init, long init_ms, double *value, int *forcible,
    const char **err) {
	return ((rf_shdict_incr_fn)a->incr)(dict, key, key_len, delta, has_init, init, init_ms,
	    value, forcible, err);
}

static long rf_shdict_ttl(rf_shdict_abi *a, void *dict, const char *key, size_t key_len) {
	return ((rf_shdict_ttl_fn)a->ttl)(dict, key, key_len);
}

static int rf_shdict_expire(rf_shdict_abi *a, void *dict, const char *key, size_t key_len,
    long ms) {
	return ((rf_shdict_expire_fn)a->expire)(dict, key, key_len, ms);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
	"unsafe"
)

// Errors of the shared dictionary functions (compare with errors.Is); the module's other
// messages ("empty key", "key too long", "no memory", ...) are plain errors.
var (
	// ErrNoSharedDicts: this process has no resty-ffi module with shared dictionaries
	// (outside nginx, or an older module).
	ErrNoSharedDicts = errors.New("shared dictionaries unavailable: the resty-ffi module " +
		"(with ngx_http_resty_ffi_shdict) is not in this process")
	// ErrExists: Add found the key there.
	ErrExists = errors.New("exists")
	// ErrNotFound: Replace, Incr without init, TTL or Expire did not find the key.
	ErrNotFound = errors.New("not found")
	// ErrNotANumber: Incr on a value that is not a number.
	ErrNotANumber = errors.New("not a number")
)

var shdictABI struct {
	once sync.Once
	ok   bool
	fns  *C.rf_shdict_abi // C memory: the C helpers read it
}

func bindShdict() error {
	shdictABI.once.Do(func() {
		a := (*C.rf_shdict_abi)(C.malloc(C.size_t(unsafe.Sizeof(C.rf_shdict_abi{}))))
		if a == nil {
			return
		}
		if C.rf_shdict_bind(a) != 0 {
			C.free(unsafe.Pointer(a))
			return
		}
		shdictABI.fns, shdictABI.ok = a, true
	})
	if !shdictABI.ok {
		return ErrNoSharedDicts
	}
	return nil
}

// Dict is one lua_shared_dict zone: what a runtime stores there is what
// ngx.shared.DICT:get() reads in Lua, in every worker, and back. Safe for concurrent use;
// valid for the worker's life.
type Dict struct {
	name string
	zone unsafe.Pointer
}

// SharedDict opens the zone of `lua_shared_dict name ...;`.
func SharedDict(name string) (*Dict, error) {
	if err := bindShdict(); err != nil {
		return nil, err
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var cerr *C.char
	zone := C.rf_shdict_open(shdictABI.fns, cname, C.size_t(len(name)), &cerr)
	if zone == nil {
		return nil, fmt.Errorf("no shared dictionary %q", name)
	}
	return &Dict{name: name, zone: zone}, nil
}

// Name is the dictionary's name.
func (d *Dict) Name() string { return d.name }

// cKey is a C copy of key (freed by the caller) and its length: the module reads it
// under the zone's lock, so it never points into Go memory.
func cKey(key string) (*C.char, C.size_t) {
	return C.CString(key), C.size_t(len(key))
}

func ms(ttl time.Duration) C.long {
	if ttl <= 0 {
		return 0
	}
	m := ttl.Milliseconds()
	if m == 0 {
		m = 1 // a positive ttl under 1 ms is not "never"
	}
	if m > math.MaxInt32 && unsafe.Sizeof(C.long(0)) < 8 {
		m = math.MaxInt32
	}
	return C.long(m)
}

func message(err *C.char, fallback string) string {
	if err == nil {
		return fallback
	}
	return C.GoString(err)
}

func declined(err *C.char, fallback string) error {
	switch m := message(err, fallback); m {
	case "exists":
		return ErrExists
	case "not found":
		return ErrNotFound
	case "not a number":
		return ErrNotANumber
	default:
		return errors.New(m)
	}
}

// Get returns a key's value: string, float64 or bool; nil when absent or expired.
func (d *Dict) Get(key string) (any, error) {
	v, _, err := d.GetFlags(key)
	return v, err
}

// GetFlags is Get, with the value's user flags.
func (d *Dict) GetFlags(key string) (any, uint32, error) {
	k, klen := cKey(key)
	defer C.free(unsafe.Pointer(k))
	var (
		typ   C.int
		str   *C.char
		slen  C.size_t
		num   C.double
		flags C.int
		cerr  *C.char
	)
	rc := C.rf_shdict_get(shdictABI.fns, d.zone, k, klen, &typ, &str, &slen, &num, &flags, &cerr)
	if rc != 0 {
		return nil, 0, errors.New(message(cerr, "shared dictionary get failed"))
	}
	switch typ {
	case C.RESTY_FFI_SHDICT_BOOLEAN:
		return num != 0, uint32(flags), nil
	case C.RESTY_FFI_SHDICT_NUMBER:
		return float64(num), uint32(flags), nil
	case C.RESTY_FFI_SHDICT_STRING:
		if str == nil {
			return "", uint32(flags), nil
		}
		s := C.GoStringN(str, C.int(slen))
		C.free(unsafe.Pointer(str))
		return s, uint32(flags), nil
	}
	return nil, 0, nil
}

// Store operations, as ngx.shared.DICT's set, add, replace, safe_set and safe_add (the safe
// ones fail with "no memory" rather than evict valid items).
const (
	OpSet     = C.RESTY_FFI_SHDICT_SET
	OpAdd     = C.RESTY_FFI_SHDICT_ADD
	OpReplace = C.RESTY_FFI_SHDICT_REPLACE
	OpSafeSet = C.RESTY_FFI_SHDICT_SAFE_SET
	OpSafeAdd = C.RESTY_FFI_SHDICT_SAFE_ADD
)

// Store stores value (string, []byte, float64, any int type, bool; nil deletes) under key
// with op, expiring after ttl (0: never), with user flags. forcible: valid items were
// evicted for room.
func (d *Dict) Store(op int, key string, value any, ttl time.Duration, flags uint32) (forcible bool, err error) {
	typ := C.int(C.RESTY_FFI_SHDICT_NIL)
	var num float64
	var str string
	switch v := value.(type) {
	case nil:
	case string:
		typ, str = C.RESTY_FFI_SHDICT_STRING, v
	case []byte:
		typ, str = C.RESTY_FFI_SHDICT_STRING, string(v)
	case bool:
		typ = C.RESTY_FFI_SHDICT_BOOLEAN
		if v {
			num = 1
		}
	case float64:
		typ, num = C.RESTY_FFI_SHDICT_NUMBER, v
	case float32:
		typ, num = C.RESTY_FFI_SHDICT_NUMBER, float64(v)
	case int:
		typ, num = C.RESTY_FFI_SHDICT_NUMBER, float64(v)
	case int64:
		typ, num = C.RESTY_FFI_SHDICT_NUMBER, float64(v)
	case int32:
		typ, num = C.RESTY_FFI_SHDICT_NUMBER, float64(v)
	case uint:
		typ, num = C.RESTY_FFI_SHDICT_NUMBER, float64(v)
	case uint64:
		typ, num = C.RESTY_FFI_SHDICT_NUMBER, float64(v)
	case uint32:
		typ, num = C.RESTY_FFI_SHDICT_NUMBER, float64(v)
	default:
		return false, fmt.Errorf("bad value type %T", value)
	}
	k, klen := cKey(key)
	defer C.free(unsafe.Pointer(k))
	var cstr *C.char
	if len(str) > 0 {
		cstr = C.CString(str)
		defer C.free(unsafe.Pointer(cstr))
	}
	var cforcible C.int
	var cerr *C.char
	rc := C.rf_shdict_store(shdictABI.fns, d.zone, C.int(op), k, klen, typ, cstr,
		C.size_t(len(str)), C.double(num), ms(ttl), C.int(flags), &cforcible, &cerr)
	switch rc {
	case 0:
		return cforcible != 0, nil
	case 1:
		return false, declined(cerr, "not stored")
	}
	return false, errors.New(message(cerr, "shared dictionary store failed"))
}

// Set stores value under key, evicting the oldest items if the zone is full; ttl 0: never
// expires.
func (d *Dict) Set(key string, value any, ttl time.Duration) error {
	_, err := d.Store(OpSet, key, value, ttl, 0)
	return err
}

// Add stores only if the key is not there (ErrExists otherwise).
func (d *Dict) Add(key string, value any, ttl time.Duration) error {
	_, err := d.Store(OpAdd, key, value, ttl, 0)
	return err
}

// Replace stores only if the key is there (ErrNotFound otherwise).
func (d *Dict) Replace(key string, value any, ttl time.Duration) error {
	_, err := d.Store(OpReplace, key, value, ttl, 0)
	return err
}

// SafeSet is Set, but fails with "no memory" rather than evict valid items.
func (d *Dict) SafeSet(key string, value any, ttl time.Duration) error {
	_, err := d.Store(OpSafeSet, key, value, ttl, 0)
	return err
}

// Delete removes key (absent already is fine).
func (d *Dict) Delete(key string) error {
	_, err := d.Store(OpSet, key, nil, 0, 0)
	return err
}

func (d *Dict) incr(key string, delta float64, hasInit bool, init float64, initTTL time.Duration) (float64, error) {
	k, klen := cKey(key)
	defer C.free(unsafe.Pointer(k))
	var has C.int
	if hasInit {
		has = 1
	}
	var value C.double
	var forcible C.int
	var cerr *C.char
	rc := C.rf_shdict_incr(shdictABI.fns, d.zone, k, klen, C.double(delta), has, C.double(init),
		ms(initTTL), &value, &forcible, &cerr)
	switch rc {
	case 0:
		return float64(value), nil
	case 1:
		return 0, declined(cerr, "not found")
	}
	return 0, errors.New(message(cerr, "shared dictionary incr failed"))
}

// Incr adds delta to a number and returns the new value: ErrNotFound for a missing key,
// ErrNotANumber for a value that is not a number.
func (d *Dict) Incr(key string, delta float64) (float64, error) {
	return d.incr(key, delta, false, 0, 0)
}

// IncrInit is Incr, where a missing key starts at init (expiring after initTTL, 0: never).
func (d *Dict) IncrInit(key string, delta, init float64, initTTL time.Duration) (float64, error) {
	return d.incr(key, delta, true, init, initTTL)
}

// TTL is the time key has left, 0 if it never expires; ErrNotFound if it is not there.
func (d *Dict) TTL(key string) (time.Duration, error) {
	k, klen := cKey(key)
	defer C.free(unsafe.Pointer(k))
	m := C.rf_shdict_ttl(shdictABI.fns, d.zone, k, klen)
	if m < 0 {
		return 0, ErrNotFound
	}
	return time.Duration(m) * time.Millisecond, nil
}

// Expire sets when key expires (ttl 0: never); ErrNotFound if it is not there.
func (d *Dict) Expire(key string, ttl time.Duration) error {
	k, klen := cKey(key)
	defer C.free(unsafe.Pointer(k))
	switch C.rf_shdict_expire(shdictABI.fns, d.zone, k, klen, ms(ttl)) {
	case 0:
		return nil
	case 1:
		return ErrNotFound
	}
	return errors.New("bad arguments")
}
