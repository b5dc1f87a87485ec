/**
 * The real data of the tests that score the clean digits model (tests/fixtures/fsdd_digits) on FSDD: the clips
 * in ../shared (which CI has; elsewhere those tests skip with a line saying so), the committed manifest with
 * its split column, and the model.
 */
export const FSDD = new URL("../../../shared/speech/fsdd/librispeech/", import.meta.url).pathname;
export const FSDD_CSV = new URL("../fixtures/manifests/fsdd.csv", import.meta.url).pathname;
export const DIGITS_CHECKPOINT =
  new URL("../fixtures/fsdd_digits/model.safetensors", import.meta.url).pathname;
export const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

/** Whether the data and the model are there; prints the skip line for `test` when not. */
export async function haveFsddDigits(test: string): Promise<boolean> {
  const [data, model] = [await exists(FSDD), await exists(DIGITS_CHECKPOINT)];
  if (!data) console.log(`${test}: skipped, ../shared/speech/fsdd is not there`);
  if (!model) console.log(`${test}: skipped, ${DIGITS_CHECKPOINT} is not there`);
  return data && model;
}
