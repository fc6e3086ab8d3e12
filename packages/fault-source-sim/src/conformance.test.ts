import { describeFaultSourceConformance } from '@bgsnap/fault-source/testing';
import type { SimConfig } from './config.js';
import { pageContents } from './page-contents.js';
import { createSimFaultSource } from './sim-fault-source.js';

// The simulator as a conformance subject: the suite drives every write through injectWrite, small
// regions, and virtual-time settings (no slack needed, generous timeouts are free).
// The suite must be the only writer (it checks that every event names a page it wrote), so no CPUs.
function harness(mode: SimConfig['mode']) {
  return {
    copiesOnFault: mode === 'copy-on-fault',
    create() {
      const sim = createSimFaultSource({
        regions: [
          { name: 'low', pageCount: 40 },
          { name: 'high', pageCount: 24, pageSize: 1024 },
        ],
        mode,
        seed: 7,
      });
      return {
        source: sim,
        write: (region: number, page: number) => sim.injectWrite(region, page),
        read: async () => {},
        initialContents: (region: number, page: number) =>
          pageContents(page, sim.startVersion(region, page), {
            region,
            pageSize: sim.regions[region]!.pageSize,
          }),
      };
    },
    eventTimeoutNs: 1e9,
    quietNs: 5e6,
    timingSlackNs: 1e6,
    realTimeLimitMs: 2000,
    randomRuns: 6,
    randomWrites: 64,
  };
}

describeFaultSourceConformance('simulator, plain', harness('plain'));
describeFaultSourceConformance('simulator, copy-on-fault', harness('copy-on-fault'));
