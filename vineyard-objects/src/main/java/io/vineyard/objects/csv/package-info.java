/**
 * CSV import and export over Apache Arrow vectors: {@link io.vineyard.objects.csv.CsvReader} infers
 * a schema and streams a file into batches, {@link io.vineyard.objects.csv.CsvWriter} prints a
 * {@link org.apache.arrow.vector.VectorSchemaRoot} as RFC 4180 text. Both take {@link
 * io.vineyard.objects.csv.CsvOptions}.
 */
package io.vineyard.objects.csv;
