package io.ndif.operator.placement;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The simulated GPUs of one pool, in hundredths of a GPU. Fractional replicas share a GPU (best
 * fit: the fullest GPU that still holds them); whole-GPU replicas take free GPUs of one node (best
 * fit: the node with the fewest free GPUs that still holds them).
 */
final class PoolLedger {
  static final int UNITS = 100;

  final PoolCapacity pool;
  private final int[][] free;
  // GPUs of each node with nothing allocated, kept with every change of free.
  private final int[] wholeFree;
  private final Map<String, List<int[]>> allocations = new LinkedHashMap<>();
  private int allocated;
  // A replica that did not fit tells that none as large fits until the ledger changes: many
  // waiting deployments try a full pool in turn.
  private long changes;
  private long failedAtChange = -1;
  private int smallestFailedNeed;

  PoolLedger(PoolCapacity pool) {
    this.pool = pool;
    this.free = new int[pool.nodes()][pool.gpusPerNode()];
    this.wholeFree = new int[pool.nodes()];
    for (int[] node : free) {
      Arrays.fill(node, UNITS);
    }
    Arrays.fill(wholeFree, pool.gpusPerNode());
  }

  private PoolLedger(PoolLedger other) {
    this.pool = other.pool;
    this.free = new int[other.free.length][];
    for (int i = 0; i < free.length; i++) {
      free[i] = other.free[i].clone();
    }
    this.wholeFree = other.wholeFree.clone();
    other.allocations.forEach((k, v) -> allocations.put(k, new ArrayList<>(v)));
    this.allocated = other.allocated;
  }

  PoolLedger copy() {
    return new PoolLedger(this);
  }

  static int units(double gpus) {
    return (int) Math.round(gpus * UNITS);
  }

  /** Units every replica of a demand takes together. */
  static long units(double gpusPerReplica, int replicas) {
    return (long) units(gpusPerReplica) * replicas;
  }

  /** Places every replica or nothing (a failed placement is undone in place). */
  boolean place(String id, double gpusPerReplica, int replicas) {
    if (units(gpusPerReplica, replicas) > (long) pool.gpus() * UNITS - allocated) {
      return false;
    }
    List<int[]> before = allocations.get(id);
    int kept = before == null ? 0 : before.size();
    for (int r = 0; r < replicas; r++) {
      if (!placeOne(id, gpusPerReplica)) {
        undo(id, kept);
        return false;
      }
    }
    return true;
  }

  private void undo(String id, int kept) {
    List<int[]> held = allocations.get(id);
    if (held == null) {
      return;
    }
    while (held.size() > kept) {
      give(held.remove(held.size() - 1));
    }
    if (held.isEmpty()) {
      allocations.remove(id);
    }
  }

  private boolean placeOne(String id, double gpusPerReplica) {
    int need = units(gpusPerReplica);
    if (failedAtChange == changes && need >= smallestFailedNeed) {
      return false;
    }
    if (placeOne(id, need)) {
      return true;
    }
    smallestFailedNeed = failedAtChange == changes ? Math.min(smallestFailedNeed, need) : need;
    failedAtChange = changes;
    return false;
  }

  private boolean placeOne(String id, int need) {
    if (need < UNITS) {
      int bestNode = -1;
      int bestGpu = -1;
      for (int n = 0; n < free.length; n++) {
        for (int g = 0; g < free[n].length; g++) {
          if (free[n][g] >= need && (bestNode < 0 || free[n][g] < free[bestNode][bestGpu])) {
            bestNode = n;
            bestGpu = g;
          }
        }
      }
      if (bestNode < 0) {
        return false;
      }
      take(id, bestNode, bestGpu, need);
      return true;
    }
    int whole = need / UNITS;
    int bestNode = -1;
    int bestFree = Integer.MAX_VALUE;
    for (int n = 0; n < free.length; n++) {
      int freeGpus = wholeFree[n];
      if (freeGpus >= whole && freeGpus < bestFree) {
        bestNode = n;
        bestFree = freeGpus;
      }
    }
    if (bestNode < 0) {
      return false;
    }
    for (int g = 0, taken = 0; g < free[bestNode].length && taken < whole; g++) {
      if (free[bestNode][g] == UNITS) {
        take(id, bestNode, g, UNITS);
        taken++;
      }
    }
    return true;
  }

  private void take(String id, int node, int gpu, int units) {
    if (free[node][gpu] == UNITS) {
      wholeFree[node]--;
    }
    free[node][gpu] -= units;
    allocated += units;
    changes++;
    allocations.computeIfAbsent(id, k -> new ArrayList<>()).add(new int[] {node, gpu, units});
  }

  /** Gives back one allocation {node, gpu, units}; the caller drops it from its list. */
  private void give(int[] allocation) {
    int node = allocation[0];
    int gpu = allocation[1];
    free[node][gpu] += allocation[2];
    allocated -= allocation[2];
    changes++;
    if (free[node][gpu] == UNITS) {
      wholeFree[node]++;
    }
  }

  void release(String id) {
    var held = allocations.remove(id);
    if (held != null) {
      held.forEach(this::give);
    }
  }

  int allocatedUnits() {
    return allocated;
  }

  int freeUnits() {
    return pool.gpus() * UNITS - allocatedUnits();
  }

  /** Nodes that hold at least one allocation: the pool's demand in nodes. */
  int nodesInUse() {
    return (int)
        allocations.values().stream().flatMap(List::stream).mapToInt(a -> a[0]).distinct().count();
  }
}
