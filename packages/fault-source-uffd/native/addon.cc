// Node-API bindings of the bgsnap userfaultfd addon. Kept thin: argument checks, conversions and
// object lifetimes; the mechanics live in mapping.cc, uffd-open.cc and session.cc.
#include <node_api.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common.h"
#include "crc32-fold.h"
#include "mapping.h"
#include "session.h"
#include "sigbus.h"
#include "test-sigbus.h"
#include "uffd-open.h"

using namespace bgsnap;

namespace {

const napi_type_tag kTokenTag = {0x6267736e61705f74ULL, 0x6f6b656e5f763031ULL};
const napi_type_tag kSessionTag = {0x6267736e61705f73ULL, 0x657373696f6e3031ULL};

#define CHECK_NAPI(call)                                        \
  do {                                                          \
    if ((call) != napi_ok) {                                    \
      ThrowLastNapi(env, #call);                                \
      return nullptr;                                           \
    }                                                           \
  } while (0)

void ThrowLastNapi(napi_env env, const char* what) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  const napi_extended_error_info* info = nullptr;
  napi_get_last_error_info(env, &info);
  std::string msg = std::string("bgsnap addon: ") + what + ": " +
                    (info && info->error_message ? info->error_message : "Node-API call failed");
  napi_throw_error(env, "EBGSNAP_NAPI", msg.c_str());
}

void SetString(napi_env env, napi_value obj, const char* key, const std::string& v) {
  napi_value s;
  napi_create_string_utf8(env, v.c_str(), v.size(), &s);
  napi_set_named_property(env, obj, key, s);
}
void SetNumber(napi_env env, napi_value obj, const char* key, double v) {
  napi_value n;
  napi_create_double(env, v, &n);
  napi_set_named_property(env, obj, key, n);
}
void SetBool(napi_env env, napi_value obj, const char* key, bool v) {
  napi_value b;
  napi_get_boolean(env, v, &b);
  napi_set_named_property(env, obj, key, b);
}

// A plain Error carrying code/errno/syscall; the JS layer turns it into a typed error with a remedy.
void ThrowNative(napi_env env, const NativeError& e) {
  napi_value msg, code, err;
  napi_create_string_utf8(env, e.message.c_str(), e.message.size(), &msg);
  napi_create_string_utf8(env, e.code.c_str(), e.code.size(), &code);
  napi_create_error(env, code, msg, &err);
  SetNumber(env, err, "errno", e.err);
  SetString(env, err, "syscall", e.syscall);
  SetBool(env, err, "native", true);
  napi_throw(env, err);
}

void ThrowCode(napi_env env, const char* code, const std::string& message) {
  NativeError e;
  e.code = code;
  e.message = message;
  ThrowNative(env, e);
}

bool GetArgs(napi_env env, napi_callback_info info, size_t want, napi_value* argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return false;
  if (argc < want) {
    napi_throw_type_error(env, "EBGSNAP_ARGS", "bgsnap addon: missing arguments");
    return false;
  }
  return true;
}

bool GetDouble(napi_env env, napi_value v, double* out) {
  if (napi_get_value_double(env, v, out) != napi_ok) {
    napi_throw_type_error(env, "EBGSNAP_ARGS", "bgsnap addon: expected a number");
    return false;
  }
  return true;
}

// ---- tracked memory ------------------------------------------------------------------------------

struct Token {
  Mapping* mapping;
  std::atomic<bool> released{false};
};

void FinalizeToken(napi_env, void* data, void*) {
  auto* t = static_cast<Token*>(data);
  if (!t->released.exchange(true)) mapping_unref(t->mapping);
  delete t;
}

napi_value WrapToken(napi_env env, Mapping* m) {
  auto* t = new Token();
  t->mapping = m;
  napi_value ext;
  if (napi_create_external(env, t, FinalizeToken, nullptr, &ext) != napi_ok) {
    mapping_unref(m);
    delete t;
    ThrowLastNapi(env, "napi_create_external");
    return nullptr;
  }
  napi_type_tag_object(env, ext, &kTokenTag);
  return ext;
}

Token* UnwrapToken(napi_env env, napi_value v, bool allow_released = false) {
  bool ok = false;
  if (napi_check_object_type_tag(env, v, &kTokenTag, &ok) != napi_ok || !ok) {
    napi_throw_type_error(env, "EBGSNAP_ARGS", "bgsnap addon: not a tracked-memory token");
    return nullptr;
  }
  void* data = nullptr;
  napi_get_value_external(env, v, &data);
  auto* t = static_cast<Token*>(data);
  if (!allow_released && t->released.load()) {
    ThrowCode(env, "EBGSNAP_RELEASED", "the tracked memory was released");
    return nullptr;
  }
  return t;
}

napi_value Alloc(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!GetArgs(env, info, 2, argv)) return nullptr;
  double bytes;
  bool huge = false;
  if (!GetDouble(env, argv[0], &bytes)) return nullptr;
  napi_get_value_bool(env, argv[1], &huge);
  NativeError err;
  Mapping* m = mapping_allocate(static_cast<size_t>(bytes), huge, &err);
  if (!m) {
    ThrowNative(env, err);
    return nullptr;
  }
  return WrapToken(env, m);
}

napi_value Attach(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  double id;
  if (!GetDouble(env, argv[0], &id)) return nullptr;
  Mapping* m = mapping_acquire(static_cast<uint64_t>(id));
  if (!m) {
    ThrowCode(env, "EBGSNAP_RELEASED",
              "tracked memory #" + std::to_string(static_cast<uint64_t>(id)) +
                  " no longer exists: every thread released it before this attach");
    return nullptr;
  }
  return WrapToken(env, m);
}

napi_value TokenInfo(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  Token* t = UnwrapToken(env, argv[0], true);
  if (!t) return nullptr;
  napi_value o;
  CHECK_NAPI(napi_create_object(env, &o));
  SetNumber(env, o, "id", static_cast<double>(t->mapping->id));
  SetNumber(env, o, "byteLength", static_cast<double>(t->mapping->length));
  SetBool(env, o, "hugePages", t->mapping->huge_pages);
  SetBool(env, o, "released", t->released.load());
  SetNumber(env, o, "address", static_cast<double>(reinterpret_cast<uintptr_t>(t->mapping->addr)));
  return o;
}

napi_value ReleaseToken(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  Token* t = UnwrapToken(env, argv[0], true);
  if (!t) return nullptr;
  bool was_live = !t->released.exchange(true);
  if (was_live) mapping_unref(t->mapping);  // the mapping itself lives on while views remain
  napi_value r;
  napi_get_boolean(env, was_live, &r);
  return r;
}

void FinalizeView(napi_env, void*, void* hint) { mapping_unref(static_cast<Mapping*>(hint)); }

napi_value View(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!GetArgs(env, info, 3, argv)) return nullptr;
  Token* t = UnwrapToken(env, argv[0]);
  if (!t) return nullptr;
  double off, len;
  if (!GetDouble(env, argv[1], &off) || !GetDouble(env, argv[2], &len)) return nullptr;
  if (off < 0 || len <= 0 || off + len > static_cast<double>(t->mapping->length)) {
    napi_throw_range_error(env, "EBGSNAP_ARGS", "bgsnap addon: view out of range");
    return nullptr;
  }
  mapping_ref(t->mapping);
  napi_value ab;
  napi_status st = napi_create_external_arraybuffer(env, t->mapping->addr + static_cast<size_t>(off),
                                                    static_cast<size_t>(len), FinalizeView, t->mapping, &ab);
  if (st != napi_ok) {
    mapping_unref(t->mapping);
    ThrowLastNapi(env, "napi_create_external_arraybuffer");
    return nullptr;
  }
  return ab;
}

napi_value Detach(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  bool detached = false;
  napi_is_detached_arraybuffer(env, argv[0], &detached);
  if (!detached) napi_detach_arraybuffer(env, argv[0]);
  return nullptr;
}

napi_value LiveMappings(napi_env env, napi_callback_info) {
  napi_value r;
  napi_create_double(env, static_cast<double>(mapping_live_count()), &r);
  return r;
}

// ---- sessions ------------------------------------------------------------------------------------

struct SessionBox {
  Session* session = nullptr;
  napi_env env = nullptr;
  napi_threadsafe_function tsfn = nullptr;
  std::atomic<bool> tsfn_released{false};
  std::vector<FaultEvent> take_scratch;  // reused by every take: no allocation per call
  std::vector<uint8_t*> free_scratch;
};

std::mutex g_sessions_mu;
std::set<SessionBox*>& Sessions() {
  static auto* s = new std::set<SessionBox*>();
  return *s;
}

// Any thread. Releases every page, joins the native threads, then lets go of the notify function.
void StopBox(SessionBox* b) {
  b->session->Stop();
  if (!b->tsfn_released.exchange(true)) napi_release_threadsafe_function(b->tsfn, napi_tsfn_release);
}

void EnvCleanup(void* arg) {
  auto* b = static_cast<SessionBox*>(arg);
  {
    std::lock_guard<std::mutex> lock(g_sessions_mu);
    Sessions().erase(b);
  }
  StopBox(b);
}

void FinalizeSession(napi_env env, void* data, void*) {
  auto* b = static_cast<SessionBox*>(data);
  {
    std::lock_guard<std::mutex> lock(g_sessions_mu);
    Sessions().erase(b);
  }
  StopBox(b);
  napi_remove_env_cleanup_hook(env, EnvCleanup, b);
  delete b->session;
  delete b;
}

void CallNotify(napi_env env, napi_value js_cb, void*, void* data) {
  if (!env || !js_cb) return;
  napi_value undef, kind;
  napi_get_undefined(env, &undef);
  napi_create_int32(env, static_cast<int32_t>(reinterpret_cast<intptr_t>(data)), &kind);
  napi_call_function(env, undef, js_cb, 1, &kind, nullptr);
}

void NotifyFromThread(void* ctx, int kind) {
  auto* b = static_cast<SessionBox*>(ctx);
  napi_call_threadsafe_function(b->tsfn, reinterpret_cast<void*>(static_cast<intptr_t>(kind)), napi_tsfn_nonblocking);
}

SessionBox* UnwrapSession(napi_env env, napi_value v, bool allow_stopped = false) {
  bool ok = false;
  if (napi_check_object_type_tag(env, v, &kSessionTag, &ok) != napi_ok || !ok) {
    napi_throw_type_error(env, "EBGSNAP_ARGS", "bgsnap addon: not a session");
    return nullptr;
  }
  void* data = nullptr;
  napi_get_value_external(env, v, &data);
  auto* b = static_cast<SessionBox*>(data);
  if (!allow_stopped && b->session->stopped()) {
    ThrowCode(env, "EBGSNAP_STOPPED", "the fault source was stopped");
    return nullptr;
  }
  return b;
}

bool GetNamedDouble(napi_env env, napi_value obj, const char* key, double* out) {
  napi_value v;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok) return false;
  return napi_get_value_double(env, v, out) == napi_ok;
}

napi_value SessionCreate(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!GetArgs(env, info, 2, argv)) return nullptr;
  SessionOptions opts;
  double mode = 0, chunk = 0, slots = 0;
  GetNamedDouble(env, argv[0], "mode", &mode);
  if (GetNamedDouble(env, argv[0], "protectChunkBytes", &chunk)) opts.protect_chunk = static_cast<size_t>(chunk);
  if (GetNamedDouble(env, argv[0], "copySlots", &slots)) opts.copy_slots = static_cast<size_t>(slots);
  napi_value wp;
  if (napi_get_named_property(env, argv[0], "wpUnpopulated", &wp) == napi_ok) {
    bool b = true;
    if (napi_get_value_bool(env, wp, &b) == napi_ok) opts.want_unpopulated = b;
  }
  opts.mode = mode == 2 ? Mode::kInThread : mode == 1 ? Mode::kCopy : Mode::kPlain;
  napi_value tokens;
  uint32_t n = 0;
  CHECK_NAPI(napi_get_named_property(env, argv[0], "tokens", &tokens));
  CHECK_NAPI(napi_get_array_length(env, tokens, &n));
  for (uint32_t i = 0; i < n; i++) {
    napi_value tv;
    CHECK_NAPI(napi_get_element(env, tokens, i, &tv));
    Token* t = UnwrapToken(env, tv);
    if (!t) return nullptr;
    opts.mappings.push_back(t->mapping);
  }
  NativeError err;
  Session* s = Session::Create(opts, &err);
  if (!s) {
    ThrowNative(env, err);
    return nullptr;
  }
  auto* b = new SessionBox();
  b->session = s;
  b->env = env;
  napi_value name;
  napi_create_string_utf8(env, "bgsnap-uffd-notify", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[1], nullptr, name, 0, 1, nullptr, nullptr, nullptr, CallNotify,
                                      &b->tsfn) != napi_ok) {
    delete s;
    delete b;
    ThrowLastNapi(env, "napi_create_threadsafe_function");
    return nullptr;
  }
  napi_unref_threadsafe_function(env, b->tsfn);  // JS refs it only while it awaits something
  s->SetNotify(NotifyFromThread, b);
  napi_value ext;
  if (napi_create_external(env, b, FinalizeSession, nullptr, &ext) != napi_ok) {
    StopBox(b);
    delete s;
    delete b;
    ThrowLastNapi(env, "napi_create_external");
    return nullptr;
  }
  napi_type_tag_object(env, ext, &kSessionTag);
  // Registered after the threadsafe function, so it runs before Node tears that function down
  // (cleanup hooks run in reverse order): the fault thread is joined while it can still notify.
  napi_add_env_cleanup_hook(env, EnvCleanup, b);
  {
    std::lock_guard<std::mutex> lock(g_sessions_mu);
    Sessions().insert(b);
  }
  return ext;
}

napi_value SessionInfo(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  SessionBox* b = UnwrapSession(env, argv[0]);
  if (!b) return nullptr;
  Session* s = b->session;
  napi_value o, huge;
  CHECK_NAPI(napi_create_object(env, &o));
  SetString(env, o, "method", s->handle().method);
  SetBool(env, o, "userModeOnly", s->handle().user_mode_only);
  SetNumber(env, o, "features", static_cast<double>(s->handle().features));
  SetNumber(env, o, "available", static_cast<double>(s->handle().available));
  SetBool(env, o, "protectsUnpopulated", s->protects_unpopulated());
  SetBool(env, o, "knowsThreadId", s->knows_thread_id());
  SetNumber(env, o, "pageSize", static_cast<double>(s->page_size()));
  CHECK_NAPI(napi_create_array_with_length(env, s->region_count(), &huge));
  for (size_t i = 0; i < s->region_count(); i++) {
    napi_value v;
    napi_get_boolean(env, s->region_huge(i), &v);
    napi_set_element(env, huge, static_cast<uint32_t>(i), v);
  }
  napi_set_named_property(env, o, "hugePages", huge);
  return o;
}

napi_value SessionStart(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  SessionBox* b = UnwrapSession(env, argv[0]);
  if (!b) return nullptr;
  NativeError err;
  if (!b->session->Start(&err)) ThrowNative(env, err);
  return nullptr;
}

napi_value SessionRef(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!GetArgs(env, info, 2, argv)) return nullptr;
  SessionBox* b = UnwrapSession(env, argv[0], true);
  if (!b) return nullptr;
  bool on = false;
  napi_get_value_bool(env, argv[1], &on);
  if (!b->tsfn_released.load()) {
    if (on)
      napi_ref_threadsafe_function(env, b->tsfn);
    else
      napi_unref_threadsafe_function(env, b->tsfn);
  }
  return nullptr;
}

bool ThrowPending(napi_env env, Session* s) {
  NativeError err;
  if (!s->TakePendingError(&err)) return false;
  ThrowNative(env, err);
  return true;
}

// A typed array of the `expected` type: its data and element count; else a TypeError naming `what`.
bool GetTypedArray(napi_env env, napi_value v, napi_typedarray_type expected, const char* what,
                   const char* type_name, void** data, size_t* len) {
  napi_typedarray_type type;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &type, len, data, &ab, &off) != napi_ok || type != expected) {
    std::string m = std::string("bgsnap addon: ") + what + " must be a " + type_name;
    napi_throw_type_error(env, "EBGSNAP_ARGS", m.c_str());
    return false;
  }
  return true;
}

bool GetBytes(napi_env env, napi_value v, const char* what, uint8_t** data, size_t* len) {
  void* p = nullptr;
  if (!GetTypedArray(env, v, napi_uint8_array, what, "Uint8Array", &p, len)) return false;
  *data = static_cast<uint8_t*>(p);
  return true;
}

// sessionTake(session, max, meta: Float64Array, contents?: Uint8Array) -> number of events taken.
// Fills the caller's buffers, which it reuses from call to call: six doubles per event in `meta`
// (region, page, raised, released, tid, copy index or -1) and each copy's bytes at copy index ×
// page size in `contents`. Nothing is allocated here, so taking faults never maps or unmaps memory
// (see session.h). Takes at most what both buffers hold.
napi_value SessionTake(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!GetArgs(env, info, 4, argv)) return nullptr;
  SessionBox* b = UnwrapSession(env, argv[0]);
  if (!b) return nullptr;
  double maxd;
  if (!GetDouble(env, argv[1], &maxd)) return nullptr;
  Session* s = b->session;
  if (ThrowPending(env, s)) return nullptr;
  size_t meta_len = 0;
  void* meta_p = nullptr;
  if (!GetTypedArray(env, argv[2], napi_float64_array, "the events buffer", "Float64Array", &meta_p, &meta_len))
    return nullptr;
  size_t cap = meta_len / 6;
  const size_t ps = s->page_size();
  uint8_t* contents = nullptr;
  napi_valuetype vt;
  napi_typeof(env, argv[3], &vt);
  if (vt != napi_undefined) {
    size_t clen = 0;
    if (!GetBytes(env, argv[3], "contents", &contents, &clen)) return nullptr;
    if (s->copies()) cap = std::min(cap, clen / ps);
  } else if (s->copies()) {
    cap = 0;  // nowhere to put the copies: only a pending error can come out
  }
  const size_t want = static_cast<size_t>(std::max(0.0, std::min(maxd, static_cast<double>(cap))));
  std::vector<FaultEvent>& evs = b->take_scratch;
  evs.clear();
  s->Take(want, &evs);  // also when 0: it records the caller as the fault-handling thread
  double* meta = static_cast<double*>(meta_p);
  std::vector<uint8_t*>& done = b->free_scratch;
  done.clear();
  size_t ci = 0;
  for (size_t i = 0; i < evs.size(); i++) {
    double* m = meta + i * 6;
    m[0] = evs[i].region;
    m[1] = static_cast<double>(evs[i].page);
    m[2] = evs[i].raised_at;
    m[3] = evs[i].released_at;
    m[4] = evs[i].tid;
    m[5] = -1;
    if (evs[i].copy) {
      if (contents) {
        memcpy(contents + ci * ps, evs[i].copy, ps);
        m[5] = static_cast<double>(ci++);
      }
      done.push_back(evs[i].copy);
    }
  }
  s->FreeSlots(done);
  napi_value n;
  napi_create_double(env, static_cast<double>(evs.size()), &n);
  return n;
}

napi_value SessionArm(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  SessionBox* b = UnwrapSession(env, argv[0]);
  if (!b) return nullptr;
  napi_value r;
  napi_create_double(env, static_cast<double>(b->session->Arm()), &r);
  return r;
}

bool GetRange(napi_env env, napi_value* argv, Session* s, uint32_t* region, uint64_t* first, uint64_t* count) {
  double r, f, c;
  if (!GetDouble(env, argv[0], &r) || !GetDouble(env, argv[1], &f) || !GetDouble(env, argv[2], &c)) return false;
  if (r < 0 || r >= s->region_count() || f < 0 || c < 0 || f + c > static_cast<double>(s->region_pages(static_cast<size_t>(r)))) {
    napi_throw_range_error(env, "EBGSNAP_ARGS", "bgsnap addon: page range out of bounds");
    return false;
  }
  *region = static_cast<uint32_t>(r);
  *first = static_cast<uint64_t>(f);
  *count = static_cast<uint64_t>(c);
  return true;
}

// The (session, region, first, count, ...) arguments of the range calls, checked.
struct RangeCall {
  SessionBox* box = nullptr;
  uint32_t region = 0;
  uint64_t first = 0;
  uint64_t count = 0;
};

// False with a JS exception pending when an argument is wrong.
bool ParseRangeCall(napi_env env, napi_callback_info info, size_t want, napi_value* argv, RangeCall* out) {
  if (!GetArgs(env, info, want, argv)) return false;
  out->box = UnwrapSession(env, argv[0]);
  if (!out->box) return false;
  return GetRange(env, argv + 1, out->box->session, &out->region, &out->first, &out->count);
}

napi_value SessionClaim(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  RangeCall a;
  if (!ParseRangeCall(env, info, 4, argv, &a)) return nullptr;
  napi_value out;
  napi_create_double(env, static_cast<double>(a.box->session->Claim(a.region, a.first, a.count)), &out);
  return out;
}

napi_value SessionNeedsPatch(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  SessionBox* b = UnwrapSession(env, argv[0]);
  if (!b) return nullptr;
  napi_value out;
  napi_get_boolean(env, b->session->NeedsPatch(), &out);
  return out;
}

napi_value SessionPatch(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  RangeCall a;
  if (!ParseRangeCall(env, info, 5, argv, &a)) return nullptr;
  uint8_t* data = nullptr;
  size_t len = 0;
  if (!GetBytes(env, argv[4], "patch target", &data, &len)) return nullptr;
  if (len < a.count * a.box->session->page_size()) {
    napi_throw_type_error(env, "EBGSNAP_ARGS", "bgsnap addon: patch target too small");
    return nullptr;
  }
  napi_value out;
  napi_create_double(env, static_cast<double>(a.box->session->Patch(a.region, a.first, a.count, data)), &out);
  return out;
}

napi_value SessionRelease(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  RangeCall a;
  if (!ParseRangeCall(env, info, 4, argv, &a)) return nullptr;
  if (a.count == 0) return nullptr;
  NativeError err;
  if (!a.box->session->Release(a.region, a.first, a.count, &err)) ThrowNative(env, err);
  return nullptr;
}

napi_value SessionPrepareRead(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  RangeCall a;
  if (!ParseRangeCall(env, info, 4, argv, &a)) return nullptr;
  NativeError err;
  const int64_t n = a.box->session->PrepareRead(a.region, a.first, a.count, &err);
  if (n < 0) {
    ThrowNative(env, err);
    return nullptr;
  }
  napi_value out;
  CHECK_NAPI(napi_create_double(env, static_cast<double>(n), &out));
  return out;
}

napi_value StatsObject(napi_env env, const SessionStats& st) {
  napi_value o;
  napi_create_object(env, &o);
  SetNumber(env, o, "faults", st.faults);
  SetNumber(env, o, "delivered", st.delivered);
  SetNumber(env, o, "preserved", st.preserved);
  SetNumber(env, o, "copied", st.copied);
  SetNumber(env, o, "claimedByScan", st.claimed_by_scan);
  SetNumber(env, o, "sameThread", st.same_thread);
  SetNumber(env, o, "slotWaits", st.slot_waits);
  SetNumber(env, o, "servedInThread", st.served_in_thread);
  SetNumber(env, o, "scanOwnedWaits", st.scan_owned_waits);
  SetNumber(env, o, "faultOwnedWaits", st.fault_owned_waits);
  SetNumber(env, o, "reserveUsed", st.reserve_used);
  SetNumber(env, o, "maxSlotsInUse", st.max_slots_in_use);
  SetNumber(env, o, "prefaultedPages", st.prefaulted_pages);
  SetNumber(env, o, "populatedForRead", st.populated_for_read);
  SetNumber(env, o, "protectChunks", st.chunks);
  SetNumber(env, o, "protectNs", st.protect_ns);
  SetNumber(env, o, "maxProtectChunkNs", st.max_chunk_ns);
  SetNumber(env, o, "startedAt", st.started_at);
  SetNumber(env, o, "protectedAt", st.protected_at);
  return o;
}

napi_value SessionStats_(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  SessionBox* b = UnwrapSession(env, argv[0], true);
  if (!b) return nullptr;
  return StatsObject(env, b->session->Stats());
}

napi_value SessionStop(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  SessionBox* b = UnwrapSession(env, argv[0], true);
  if (!b) return nullptr;
  StopBox(b);
  return StatsObject(env, b->session->Stats());
}

napi_value StopAll(napi_env env, napi_callback_info) {
  size_t n = 0;
  {
    std::lock_guard<std::mutex> lock(g_sessions_mu);
    for (SessionBox* b : Sessions()) {
      if (!b->session->stopped()) n++;
      StopBox(b);
    }
  }
  napi_value r;
  napi_create_double(env, static_cast<double>(n), &r);
  return r;
}

napi_value Probe(napi_env env, napi_callback_info) {
  UffdHandle h;
  NativeError err;
  if (!uffd_probe(&h, &err)) {
    ThrowNative(env, err);
    return nullptr;
  }
  napi_value o;
  CHECK_NAPI(napi_create_object(env, &o));
  SetNumber(env, o, "available", static_cast<double>(h.available));
  SetString(env, o, "method", h.method);
  SetBool(env, o, "userModeOnly", h.user_mode_only);
  return o;
}

napi_value Inject(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!GetArgs(env, info, 2, argv)) return nullptr;
  char point[128];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[0], point, sizeof point, &len) != napi_ok) return nullptr;
  double v;
  if (!GetDouble(env, argv[1], &v)) return nullptr;
  uffd_inject(std::string(point, len), static_cast<int64_t>(v));
  return nullptr;
}

bool GetSeed(napi_env env, napi_value v, uint32_t* seed) {
  double d;
  if (!GetDouble(env, v, &d)) return false;
  if (!(d >= 0 && d <= 4294967295.0) || d != static_cast<double>(static_cast<uint32_t>(d))) {
    napi_throw_range_error(env, "EBGSNAP_ARGS", "bgsnap addon: crc32 seed must be an integer in [0, 2^32)");
    return false;
  }
  *seed = static_cast<uint32_t>(d);
  return true;
}

// Asked once: the CPU does not change under a running process.
bool FoldSupported() {
  static const bool supported = crc32_fold_supported();
  return supported;
}

// crc32(data: Uint8Array, seed: number): zlib's CRC-32 of data continued from seed; undefined when this
// CPU cannot run the folding loop (the caller keeps its own CRC then).
napi_value Crc32(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!GetArgs(env, info, 2, argv)) return nullptr;
  uint8_t* data;
  size_t len;
  uint32_t seed;
  if (!GetBytes(env, argv[0], "data", &data, &len) || !GetSeed(env, argv[1], &seed)) return nullptr;
  napi_value out;
  if (!FoldSupported()) {
    napi_get_undefined(env, &out);
    return out;
  }
  // A detached or empty array has no data: the CRC of nothing continued from seed is seed.
  napi_create_uint32(env, len == 0 ? seed : crc32_fold(seed, data, len), &out);
  return out;
}

// copyCrc32(src: Uint8Array, dst: Uint8Array, seed: number): copies src into the start of dst and
// returns crc32(src, seed), in one pass; undefined (and nothing copied) where crc32 is undefined.
napi_value CopyCrc32(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!GetArgs(env, info, 3, argv)) return nullptr;
  uint8_t* src;
  uint8_t* dst;
  size_t n;
  size_t room;
  uint32_t seed;
  if (!GetBytes(env, argv[0], "src", &src, &n) || !GetBytes(env, argv[1], "dst", &dst, &room) ||
      !GetSeed(env, argv[2], &seed)) {
    return nullptr;
  }
  if (room < n) {
    napi_throw_range_error(env, "EBGSNAP_ARGS", "bgsnap addon: copyCrc32 dst is shorter than src");
    return nullptr;
  }
  if (n > 0 && src < dst + n && dst < src + n) {
    napi_throw_range_error(env, "EBGSNAP_ARGS", "bgsnap addon: copyCrc32 src and dst overlap");
    return nullptr;
  }
  napi_value out;
  if (!FoldSupported()) {
    napi_get_undefined(env, &out);
    return out;
  }
  napi_create_uint32(env, n == 0 ? seed : crc32_fold_copy(seed, src, dst, n), &out);
  return out;
}

napi_value Now(napi_env env, napi_callback_info) {
  napi_value r;
  napi_create_double(env, now_ns(), &r);
  return r;
}

napi_value Tid(napi_env env, napi_callback_info) {
  napi_value r;
  napi_create_double(env, current_tid(), &r);
  return r;
}

// sigbusState() -> { installed, entries }: whether the in-thread SIGBUS handler is the installed action,
// and how many tracked ranges (live or retired) it still knows.
napi_value SigbusState(napi_env env, napi_callback_info) {
  napi_value o;
  CHECK_NAPI(napi_create_object(env, &o));
  SetBool(env, o, "installed", sigbus_handler_installed());
  SetNumber(env, o, "entries", static_cast<double>(sigbus_entries_in_use()));
  return o;
}

// testSigbus(op: string) -> number. Test-only: see test-sigbus.h.
napi_value TestSigbus(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  char op[32];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[0], op, sizeof op, &len) != napi_ok) {
    napi_throw_type_error(env, "EBGSNAP_ARGS", "bgsnap addon: testSigbus op must be a string");
    return nullptr;
  }
  NativeError err;
  const int64_t r = test_sigbus(std::string(op, len), &err);
  if (r < 0) {
    ThrowNative(env, err);
    return nullptr;
  }
  napi_value out;
  napi_create_double(env, static_cast<double>(r), &out);
  return out;
}

napi_value PageSize(napi_env env, napi_callback_info) {
  napi_value r;
  napi_create_double(env, static_cast<double>(sysconf(_SC_PAGESIZE)), &r);
  return r;
}

}  // namespace

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"alloc", nullptr, Alloc, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"attach", nullptr, Attach, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"tokenInfo", nullptr, TokenInfo, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"releaseToken", nullptr, ReleaseToken, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"view", nullptr, View, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"detach", nullptr, Detach, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"liveMappings", nullptr, LiveMappings, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sessionCreate", nullptr, SessionCreate, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sessionInfo", nullptr, SessionInfo, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sessionStart", nullptr, SessionStart, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sessionRef", nullptr, SessionRef, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sessionTake", nullptr, SessionTake, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sessionArm", nullptr, SessionArm, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sessionClaim", nullptr, SessionClaim, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sessionNeedsPatch", nullptr, SessionNeedsPatch, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sessionPatch", nullptr, SessionPatch, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sessionPrepareRead", nullptr, SessionPrepareRead, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sessionRelease", nullptr, SessionRelease, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sessionStats", nullptr, SessionStats_, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sessionStop", nullptr, SessionStop, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"stopAll", nullptr, StopAll, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"probe", nullptr, Probe, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"inject", nullptr, Inject, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"now", nullptr, Now, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"crc32", nullptr, Crc32, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"copyCrc32", nullptr, CopyCrc32, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"tid", nullptr, Tid, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"pageSize", nullptr, PageSize, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sigbusState", nullptr, SigbusState, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"testSigbus", nullptr, TestSigbus, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
