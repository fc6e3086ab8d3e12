// The process-wide SIGBUS handler of in-thread sessions (userfaultfd with UFFD_FEATURE_SIGBUS): a write
// to a protected page raises SIGBUS in the writing thread, and the handler resolves the fault right
// there (Session::ServeSigbus) instead of a fault thread doing it.
//
// The handler finds sessions through a fixed table of address ranges, one entry per tracked region,
// published with atomics and read without locks. An entry outlives its session: after stop() it stays
// "retired" until the memory is unmapped, because a thread that faulted just before stop() released
// the page may run the handler only after stop() is done (it can be preempted between the fault and
// the delivery of its SIGBUS). For a retired range the handler just returns and the store re-executes
// on the now writable page; without the entry that late signal would go to the default action and
// kill the process. For every other address the handler chains to the handler installed before it
// (SA_SIGINFO or plain), and for SIG_DFL/SIG_IGN restores the default action and re-raises, so a
// foreign SIGBUS ends the process as it would have without this addon.
//
// Our handler is installed when the first in-thread session starts and the previous one restored when
// no entry is left (no live session, and every retired range unmapped).
#pragma once
#include <cstddef>
#include <cstdint>

#include "common.h"

namespace bgsnap {

class Session;

// Publishes each of the session's regions in the table (reusing a retired entry of the same range) and
// installs the handler if it is not installed yet. False with `err` set when the table is full or
// sigaction fails; nothing is left published then.
bool sigbus_publish(Session* s, NativeError* err);

// Retires the session's entries and waits until no handler is inside the session any more; after this
// the session may be destroyed. Call after every page is released and the ranges unregistered.
void sigbus_unpublish(Session* s);

// Memory [base, base + len) is about to be unmapped: forgets a retired entry of it, and restores the
// previous handler when the table is empty.
void sigbus_forget_range(const uint8_t* base, size_t len);

// Whether our handler is the installed SIGBUS action (tests).
bool sigbus_handler_installed();

// Number of table entries in use, live or retired (tests).
size_t sigbus_entries_in_use();

}  // namespace bgsnap
