/** `1 change`, `2 changes`, `0 issues`: counts in human output read as English. */
export function plural(n: number, singular: string, pluralForm = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : pluralForm}`;
}
