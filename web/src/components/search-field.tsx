/** The free-text filter of a list page: its value as typed (the page debounces it). */
export function SearchField({
  label,
  value,
  onInput,
  placeholder,
  testId,
}: {
  label: string;
  value: string;
  onInput: (text: string) => void;
  placeholder: string;
  testId: string;
}) {
  return (
    <label>
      {label}
      <input type="search" value={value} onInput={(e) => onInput((e.target as HTMLInputElement).value)} placeholder={placeholder} data-testid={testId} />
    </label>
  );
}
