// Cross-implementation check with Arrow's JavaScript implementation (apache-arrow on npm), run by
// ArrowInteropIT.
//   node arrow-js.mjs read FILE     prints the file's row count, field names and some columns as JSON
//   node arrow-js.mjs write FILE    writes a small table as an Arrow IPC file
import { readFileSync, writeFileSync } from 'node:fs';
import { tableFromIPC, tableToIPC, tableFromArrays, vectorFromArray, Dictionary, Utf8, Int32 } from 'apache-arrow';

const [mode, file] = process.argv.slice(2);
if (mode === 'read') {
  const table = tableFromIPC(readFileSync(file));
  const column = (name) => {
    const v = table.getChild(name);
    return v === null ? null : Array.from({ length: table.numRows }, (_, i) => {
      const x = v.get(i);
      return x === null ? null : String(x);
    });
  };
  console.log(JSON.stringify({
    rows: table.numRows,
    batches: table.batches.length,
    fields: table.schema.fields.map((f) => f.name),
    int64: column('int64'),
    float64: column('float64'),
    utf8: column('utf8'),
    bool: column('bool'),
    date32: column('date32'),
    dict_utf8: column('dict_utf8'),
  }));
} else if (mode === 'write') {
  const table = tableFromArrays({
    id: Int32Array.from([1, 2, 3, 4]),
    score: Float64Array.from([0.5, -1.25, 3, 1e10]),
    name: vectorFromArray(['ada', 'grace', null, 'édith'], new Utf8()),
    colour: vectorFromArray(['red', 'blue', 'red', 'red'], new Dictionary(new Utf8(), new Int32())),
  });
  writeFileSync(file, tableToIPC(table, 'file'));
} else {
  console.error('usage: node arrow-js.mjs read|write FILE');
  process.exit(2);
}
