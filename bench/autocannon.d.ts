// autocannon ships no types; the benchmark uses a handful of its fields.
declare module 'autocannon';
