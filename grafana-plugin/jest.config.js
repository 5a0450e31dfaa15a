// force timezone to UTC to allow tests to work regardless of local timezone
// generally used by snapshots, but can affect specific tests
process.env.TZ = 'UTC';

const base = require('./.config/jest.config');

module.exports = {
  // Jest configuration provided by Grafana scaffolding
  ...base,
  // d3-color 3.1.1 (pulled in by @grafana/data 12.4.x) ships only .mjs files,
  // which the scaffold's transform pattern (.js/.ts/.jsx/.tsx) leaves alone.
  // The editors' tests render @grafana/ui selects; on a loaded CI machine
  // one takes several seconds, past jest's 5 s default.
  testTimeout: 30000,
  transform: {
    '^.+\\.m?(t|j)sx?$': base.transform['^.+\\.(t|j)sx?$'],
  },
};
