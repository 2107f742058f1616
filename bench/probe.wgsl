// The probe's kernels (bench/probe.ts): what an adapter offers the recurrent schedules, measured.
// Every wait is bounded by `spins` polls; one that runs out sets words[1] (the failure flag)
// and every waiter that sees the flag stops, so a probe never hangs the adapter.
//
//   tick:     one invocation adds 1 to words[0]; N of them in one compute pass are N dependent
//             dispatches (the per-dispatch cost of the per-timestep schedule)
//   pingpong: two workgroups hand words[0] back and forth `rounds` times through storage
//             atomics (the handoff of a grid-persistent sweep between timesteps)
//   discover: the occupancy discovery of Sorensen et al. (OOPSLA 2016), in one atomic word
//             (words[2]: the count of workgroups that arrived, bit 31 set once closed): a
//             workgroup takes a ticket while the word is open; the first waits until no new
//             ticket came for `spins` polls and closes it; the others stay until it is closed,
//             so every ticket holder was resident at the moment of closing. Each workgroup has
//             WGSIZE invocations and holds WMEM words of workgroup memory (as a sweep would).

struct Probe {
  rounds: u32,
  spins: u32,
}

@group(0) @binding(0) var<uniform> probe: Probe;
@group(0) @binding(1) var<storage, read_write> words: array<atomic<u32>>;

override WGSIZE: u32 = 64u;
override WMEM: u32 = 1u;
const CLOSED: u32 = 0x80000000u;

var<workgroup> held: array<u32, WMEM>;

@compute @workgroup_size(1)
fn tick() {
  atomicAdd(&words[0], 1u);
}

// Waits until words[0] == want; false when the wait ran out or the other side gave up.
fn wait_for(want: u32) -> bool {
  for (var n = 0u; n < probe.spins; n++) {
    if (atomicLoad(&words[0]) == want) { return true; }
    if (atomicLoad(&words[1]) != 0u) { return false; }
  }
  atomicStore(&words[1], 1u);
  return false;
}

// Workgroup 0 waits for 2i and writes 2i+1; workgroup 1 waits for 2i+1 and writes 2i+2.
@compute @workgroup_size(1)
fn pingpong(@builtin(workgroup_id) wg: vec3u) {
  for (var i = 0u; i < probe.rounds; i++) {
    let want = 2u * i + wg.x;
    if (!wait_for(want)) { return; }
    atomicStore(&words[0], want + 1u);
  }
}

@compute @workgroup_size(WGSIZE)
fn discover(@builtin(local_invocation_index) li: u32) {
  held[li % WMEM] = li;                   // the workgroup memory is in use (not compiled away)
  if (li != 0u) { return; }
  if (held[0] == 0xffffffffu) { atomicAdd(&words[3], 1u); }
  var ticket = CLOSED;
  loop {
    let s = atomicLoad(&words[2]);
    if ((s & CLOSED) != 0u) { break; }
    if (atomicCompareExchangeWeak(&words[2], s, s + 1u).exchanged) { ticket = s; break; }
  }
  if (ticket == CLOSED) { return; }       // arrived after the closing
  if (ticket == 0u) {
    var last = 1u;
    var quiet = 0u;
    while (quiet < probe.spins) {
      let s = atomicLoad(&words[2]);
      if (s == last) { quiet++; } else { last = s; quiet = 0u; }
    }
    atomicOr(&words[2], CLOSED);
    return;
  }
  for (var n = 0u; n < 64u * probe.spins; n++) {
    if ((atomicLoad(&words[2]) & CLOSED) != 0u) { return; }
  }
  atomicStore(&words[1], 1u);
}
