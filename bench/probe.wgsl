// The probe's kernels (bench/probe.ts): what an adapter offers the recurrent schedules, measured.
// Every wait is bounded by `spins` polls; one that runs out sets words[1] (the failure flag)
// and every waiter that sees the flag stops, so a probe never hangs the adapter.
//
//   tick:     one invocation adds 1 to words[0]; N of them in one compute pass are N dependent
//             dispatches (the per-dispatch cost of the per-timestep schedule)
//   pingpong: two workgroups hand words[0] back and forth `rounds` times through storage
//             atomics (the handoff of a grid-persistent sweep between timesteps)
// (How many workgroups are resident at once: shaders/residency.wgsl, the engine's own.)

struct Probe {
  rounds: u32,
  spins: u32,
}

@group(0) @binding(0) var<uniform> probe: Probe;
@group(0) @binding(1) var<storage, read_write> words: array<atomic<u32>>;

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
