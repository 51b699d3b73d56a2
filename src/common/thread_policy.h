#pragma once

namespace eg {

// Names the calling thread (at most 15 characters are kept) and gives it the batch
// scheduling policy (SCHED_BATCH, nice unchanged): when it wakes it does not preempt the
// thread running on its core, it runs when that one blocks or its slice ends. For threads
// that the I/O threads hand work to (the embedded store, its syncs): an I/O thread goes
// on serving the requests it has, and hands over several at once, rather than being
// switched out for each one. Where the policy is refused, the thread keeps the normal one.
void becomeBatchThread(const char* name);

}  // namespace eg
