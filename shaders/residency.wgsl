// How many workgroups an adapter runs at once (src/gpu/residency.ts; the grid sweeps of
// shaders/cells_grid.wgsl use no more): the occupancy discovery of Sorensen et al. (OOPSLA
// 2016) in one atomic word. words[0]: the count of workgroups that arrived, bit 31 set once
// closed; words[1]: set when a wait ran out. A workgroup takes a ticket while the word is
// open; the first waits until no new ticket came for QUIET polls and closes it; the others
// stay until it is closed, so every ticket holder was resident at the moment of closing. Each
// workgroup has WGSIZE invocations and holds WMEM words of workgroup memory, as a sweep would.

override WGSIZE: u32 = 64u;
override WMEM: u32 = 1u;
override QUIET: u32 = 1048576u;
const CLOSED: u32 = 0x80000000u;

@group(0) @binding(0) var<storage, read_write> words: array<atomic<u32>>;

var<workgroup> held: array<u32, WMEM>;

@compute @workgroup_size(WGSIZE)
fn discover(@builtin(local_invocation_index) li: u32) {
  held[li % WMEM] = li;                    // the workgroup memory is in use (not compiled away)
  if (li != 0u) { return; }
  if (held[0] == 0xffffffffu) { atomicAdd(&words[2], 1u); }
  var ticket = CLOSED;
  loop {
    let s = atomicLoad(&words[0]);
    if ((s & CLOSED) != 0u) { break; }
    if (atomicCompareExchangeWeak(&words[0], s, s + 1u).exchanged) { ticket = s; break; }
  }
  if (ticket == CLOSED) { return; }        // arrived after the closing
  if (ticket == 0u) {
    var last = 1u;
    var quiet = 0u;
    while (quiet < QUIET) {
      let s = atomicLoad(&words[0]);
      if (s == last) { quiet++; } else { last = s; quiet = 0u; }
    }
    atomicOr(&words[0], CLOSED);
    return;
  }
  for (var n = 0u; n < 64u * QUIET; n++) {
    if ((atomicLoad(&words[0]) & CLOSED) != 0u) { return; }
  }
  atomicStore(&words[1], 1u);
}
