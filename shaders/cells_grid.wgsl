// The grid-persistent sweeps of the layer kernels ('grid'): the math of forward_sweep and
// backward_sweep (shaders/cells.wgsl) in one dispatch per layer and direction, over P
// workgroups that run at the same time (src/gpu/residency.ts finds how many can). Workgroup p
// owns units [p*US, (p+1)*US), US = ceil(H/P), of every stream, all G gate rows of each, for
// all T timesteps; its invocations take its (unit, stream) pairs in turn, as backward_step and
// forward_step do one of them.
//
// The workgroups hand each timestep's result to each other through storage atomics, word by
// word, with no fence and no barrier between workgroups (WebGPU has neither): every word of
// the exchanged tensor starts as SENTINEL (grid_fill_h, grid_fill_x, dispatched before), its
// producer stores it once (never as SENTINEL: canonical()), and a consumer polls it until it
// is something else. Forward exchanges h_t (hs, slot t+1), backward dLoss/d ah_t (dpre of the
// layer, or dah where the cell has an extra bias). Each workgroup stages the whole exchanged
// vector of the timestep in workgroup memory (gw) before its products, a chunk of streams at a
// time where all of them do not fit (GW/H streams forward, GW/(G*H) backward).
//
// Forward progress between workgroups is not promised by WebGPU: a poll that runs out (SPIN
// polls) sets the failure word and the repair's size in the control words of the layer and
// direction (after the 2*B*H words of dnext), and every workgroup that sees the failure
// stops. The engine then copies those words to an indirect dispatch of the same kernel with
// one workgroup (P = 1), which finds the first timestep not complete (the first slot with a
// SENTINEL left), computes from there on alone (never waiting on another workgroup), and
// clears the control words. The sums are those of the reference sweeps, in the same order.

override GW: u32 = 64u;                    // words of gw: G*H per stream of a chunk (src/gpu/schedule.ts gridWords)
const SENTINEL: u32 = 0xffffffffu;         // a NaN that arithmetic never makes
const SPIN: u32 = 1u << 24u;                // polls of one word before a wait gives up

var<workgroup> gw: array<f32, GW>;
var<workgroup> gflag: u32;

// The bits of x as stored for the consumers: never SENTINEL (a NaN stays a NaN).
fn canonical(x: f32) -> u32 {
  let w = bitcast<u32>(x);
  return select(w, 0x7fc00000u, w == SENTINEL);
}

// The control words of layer l, direction d (0 forward, 1 backward): x, y, z of the repair's
// indirect dispatch, the failure word, and how many repairs ran (never cleared); in dnext after
// its 2*B*H words, 8 per layer and direction.
fn ctrl_at(d: u32) -> u32 {
  return 2u * launch.B * launch.H + 8u * (2u * cell.layer + d);
}

// ---- forward_grid, grid_fill_h (bindings as forward_sweepN, with dnext at 7 for carry)
@group(0) @binding(4) var<storage, read_write> hs_words: array<atomic<u32>>;   // hs as words
@group(0) @binding(7) var<storage, read_write> ctrl: array<atomic<u32>>;   // dnext as words

fn fail_fwd(c: u32) {
  atomicStore(&ctrl[c + 1u], 1u);
  atomicStore(&ctrl[c + 2u], 1u);
  atomicStore(&ctrl[c], 1u);
  atomicStore(&ctrl[c + 3u], 1u);
}

// Word i of hs once its producer stored it; SENTINEL where the wait gave up or another failed.
fn wait_h(i: u32, c: u32) -> u32 {
  for (var n = 0u; n < SPIN; n++) {
    let w = atomicLoad(&hs_words[i]);
    if (w != SENTINEL) { return w; }
    if ((n & 255u) == 255u && atomicLoad(&ctrl[c + 3u]) != 0u) { return SENTINEL; }
  }
  fail_fwd(c);
  return SENTINEL;
}

// Invocation e = t*B*H + i writes SENTINEL into hs slot t+1 of the layer.
@compute @workgroup_size(WG)
fn grid_fill_h(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flat_id(gid, nwg, WG);
  let n = launch.T * launch.B * launch.H;
  if (e >= n) { return; }
  atomicStore(&hs_words[cell.layer * (launch.T + 1u) * launch.B * launch.H + launch.B * launch.H + e], SENTINEL);
}

// The first timestep whose h is not complete in hs (T when all are): for the repair.
fn first_open_h(li: u32, h0: u32) -> u32 {
  let BH = launch.B * launch.H;
  for (var t = 0u; t < launch.T; t++) {
    if (li == 0u) { gflag = 0u; }
    workgroupBarrier();
    for (var i = li; i < BH; i += WG) {
      if (atomicLoad(&hs_words[h0 + (t + 1u) * BH + i]) == SENTINEL) { gflag = 1u; }
    }
    if (workgroupUniformLoad(&gflag) != 0u) { return t; }
  }
  return launch.T;
}

@compute @workgroup_size(WG)
fn forward_grid(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let H = launch.H; let B = launch.B; let T = launch.T;
  let l = cell.layer;
  let GH = G * H;
  let BH = B * H;
  let P = nwg.x;
  let US = (H + P - 1u) / P;
  let h0 = l * (T + 1u) * BH;
  let c = ctrl_at(0u);
  var t0 = 0u;
  if (P == 1u) {
    t0 = first_open_h(li, h0);
    if (li == 0u && atomicLoad(&ctrl[c + 3u]) != 0u) { atomicAdd(&ctrl[c + 4u], 1u); }
  }
  let SF = GW / H;                          // streams per chunk: their h_{t-1} fills gw
  for (var t = t0; t < T; t++) {
    let hp = h0 + t * BH;                    // slot t: h_{t-1} of every stream
    for (var b0 = 0u; b0 < B; b0 += SF) {
      let nb = min(SF, B - b0);
      if (li == 0u) { gflag = 0u; }
      workgroupBarrier();
      for (var i = li; i < nb * H; i += WG) {
        let w = wait_h(hp + b0 * H + i, c);
        if (w == SENTINEL) { gflag = 1u; }
        gw[i] = bitcast<f32>(w);
      }
      if (workgroupUniformLoad(&gflag) != 0u) { return; }
      for (var e = li; e < US * nb; e += WG) {
        let u = wg.x * US + e % US;
        let bc = e / US;                        // the stream in the chunk
        let b = b0 + bc;
        if (u >= H) { continue; }
        let pos = t * B + b;
        let x = inputs[pos];
        var a: array<f32, G>;
        var r: array<f32, G>;
        for (var k = 0u; k < G; k++) { a[k] = cell_input(l, pos, x, k * H + u); r[k] = 0.0; }
        for (var j = 0u; j < H; j++) {
          let h = gw[bc * H + j];
          for (var k = 0u; k < G; k++) { r[k] += W_hhT[j * GH + k * H + u] * h; }
        }
        var cp = 0.0;
        if (HAS_C) { cp = cs[hp + b * H + u]; }
        var bhn = 0.0;
        if (HAS_BHN) { bhn = params[cell.off_b_hn + u]; }
        let o = cell_forward(a, r, gw[bc * H + u], cp, bhn);
        if (HAS_C) { cs[hp + BH + b * H + u] = o.c; }
        let sa = (l * T * B + pos) * S * H;
        var saved = o.act;
        for (var k = 0u; k < S; k++) { act[sa + k * H + u] = saved[k]; }
        atomicStore(&hs_words[hp + BH + b * H + u], canonical(o.h));
      }
    }
  }
  // the repair clears the control words for the next step
  if (P == 1u && li == 0u) { for (var k = 0u; k < 4u; k++) { atomicStore(&ctrl[c + k], 0u); } }
}

// ---- backward_grid, grid_fill_x (bindings as backward_sweep)
@group(0) @binding(6) var<storage, read_write> dpre_words: array<atomic<u32>>;  // dpre as words
@group(0) @binding(7) var<storage, read_write> dah_words: array<atomic<u32>>;   // dah as words
@group(0) @binding(8) var<storage, read_write> dnext_words: array<atomic<u32>>; // dnext as words

fn fail_bwd(c: u32) {
  atomicStore(&dnext_words[c + 1u], 1u);
  atomicStore(&dnext_words[c + 2u], 1u);
  atomicStore(&dnext_words[c], 1u);
  atomicStore(&dnext_words[c + 3u], 1u);
}

// Where dLoss/d ah of row r at position pos is exchanged: dah (HAS_BHN) or dpre of the layer.
fn xat(pos: u32, r: u32) -> u32 {
  if (HAS_BHN) { return pos * G * launch.H + r; }
  return (cell.layer * launch.T * launch.B + pos) * G * launch.H + r;
}

fn load_x(i: u32) -> u32 {
  if (HAS_BHN) { return atomicLoad(&dah_words[i]); }
  return atomicLoad(&dpre_words[i]);
}

fn wait_x(i: u32, c: u32) -> u32 {
  for (var n = 0u; n < SPIN; n++) {
    let w = load_x(i);
    if (w != SENTINEL) { return w; }
    if ((n & 255u) == 255u && atomicLoad(&dnext_words[c + 3u]) != 0u) { return SENTINEL; }
  }
  fail_bwd(c);
  return SENTINEL;
}

// Invocation e writes SENTINEL into word e of the layer's exchanged dLoss/d ah (T*B*G*H words).
@compute @workgroup_size(WG)
fn grid_fill_x(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = flat_id(gid, nwg, WG);
  if (e >= launch.T * launch.B * G * launch.H) { return; }
  if (HAS_BHN) { atomicStore(&dah_words[e], SENTINEL); } else { atomicStore(&dpre_words[xat(0u, e)], SENTINEL); }
}

// The first timestep, counted from the last, whose dLoss/d ah is not complete (T when all are).
fn first_open_x(li: u32) -> u32 {
  let n = launch.B * G * launch.H;
  for (var tt = 0u; tt < launch.T; tt++) {
    let t = launch.T - 1u - tt;
    if (li == 0u) { gflag = 0u; }
    workgroupBarrier();
    for (var i = li; i < n; i += WG) {
      if (load_x(xat(t * launch.B, 0u) + i) == SENTINEL) { gflag = 1u; }
    }
    if (workgroupUniformLoad(&gflag) != 0u) { return tt; }
  }
  return launch.T;
}

@compute @workgroup_size(WG)
fn backward_grid(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let H = launch.H; let B = launch.B; let T = launch.T;
  let l = cell.layer;
  let GH = G * H;
  let BH = B * H;
  let P = nwg.x;
  let US = (H + P - 1u) / P;
  let c = ctrl_at(1u);
  var tt0 = 0u;
  if (P == 1u) {
    tt0 = first_open_x(li);
    if (li == 0u && atomicLoad(&dnext_words[c + 3u]) != 0u) { atomicAdd(&dnext_words[c + 4u], 1u); }
  }
  let SB = GW / GH;                         // streams per chunk: their dLoss/d ah_{t+1} fills gw
  for (var tt = tt0; tt < T; tt++) {
    let t = T - 1u - tt;
    for (var b0 = 0u; b0 < B; b0 += SB) {
      let nb = min(SB, B - b0);
      if (li == 0u) { gflag = 0u; }
      workgroupBarrier();
      if (t + 1u < T) {
        let next = xat((t + 1u) * B + b0, 0u);  // dLoss/d ah_{t+1} of the chunk's streams
        for (var i = li; i < nb * GH; i += WG) {
          let w = wait_x(next + i, c);
          if (w == SENTINEL) { gflag = 1u; }
          gw[i] = bitcast<f32>(w);
        }
      }
      if (workgroupUniformLoad(&gflag) != 0u) { return; }
      for (var e = li; e < US * nb; e += WG) {
        let u = wg.x * US + e % US;
        let bc = e / US;
        let b = b0 + bc;
        if (u >= H) { continue; }
        let pos = t * B + b;
        var dh_next = 0.0;
        var dc_next = 0.0;
        if (t + 1u < T) {
          var s = bitcast<f32>(atomicLoad(&dnext_words[b * H + u]));
          for (var r = 0u; r < GH; r++) { s += params[cell.off_W_hh + r * H + u] * gw[bc * GH + r]; }
          dh_next = s;
          dc_next = bitcast<f32>(atomicLoad(&dnext_words[BH + b * H + u]));
        }
        let hp = l * (T + 1u) * BH + t * BH + b * H;
        var cp = 0.0;
        var c_new = 0.0;
        if (HAS_C) { cp = cs_in[hp + u]; c_new = cs_in[hp + BH + u]; }
        let sa = (l * T * B + pos) * S * H;
        var saved: array<f32, S>;
        for (var k = 0u; k < S; k++) { saved[k] = act_in[sa + k * H + u]; }
        let g = cell_backward(dh[pos * H + u] + dh_next, dc_next, hs_in[hp + u], cp, c_new, saved);
        var gx = g.dax;
        var gh = g.dah;
        atomicStore(&dnext_words[b * H + u], bitcast<u32>(g.dh_direct));
        atomicStore(&dnext_words[BH + b * H + u], bitcast<u32>(g.dc));
        let da = (l * T * B + pos) * GH;
        for (var k = 0u; k < G; k++) {
          if (HAS_BHN) {
            atomicStore(&dpre_words[da + k * H + u], bitcast<u32>(gx[k]));
            atomicStore(&dah_words[pos * GH + k * H + u], canonical(gh[k]));
          } else {
            atomicStore(&dpre_words[da + k * H + u], canonical(gx[k]));
          }
        }
      }
    }
  }
  if (P == 1u && li == 0u) { for (var k = 0u; k < 4u; k++) { atomicStore(&dnext_words[c + k], 0u); } }
}
