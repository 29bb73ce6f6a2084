/**
 * Compile problems as values with positions. The compiler collects all of them so an author
 * sees every problem in one run; `formatDiagnostic` renders `file:line:col: message` followed
 * by the offending line and a caret, like the compilers security engineers already know.
 */
export type Severity = 'error' | 'warning';

export interface Diagnostic {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  message: string;
  severity: Severity;
  /** The offending source line (without its newline). */
  snippet?: string;
}

/** Maps character offsets of one source text to 1-based line/column and source lines. */
export class SourceText {
  private readonly lineStarts: number[] = [0];

  constructor(
    readonly file: string,
    readonly text: string,
  ) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
  }

  position(offset: number): { line: number; column: number } {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - this.lineStarts[lo] + 1 };
  }

  lineText(line: number): string {
    const start = this.lineStarts[line - 1] ?? 0;
    const end = this.lineStarts[line] ?? this.text.length;
    return this.text.slice(start, end).replace(/\r?\n$/, '');
  }

  diagnostic(offset: number, message: string, severity: Severity = 'error'): Diagnostic {
    const { line, column } = this.position(Math.max(0, Math.min(offset, this.text.length)));
    return { file: this.file, line, column, message, severity, snippet: this.lineText(line) };
  }
}

export function formatDiagnostic(d: Diagnostic): string {
  const head = `${d.file}:${d.line}:${d.column}: ${d.severity === 'warning' ? 'warning: ' : ''}${d.message}`;
  if (d.snippet === undefined) return head;
  const gutter = `${d.line} | `;
  const caretPad = ' '.repeat(gutter.length + Math.max(0, d.column - 1));
  return `${head}\n  ${gutter}${d.snippet}\n  ${caretPad}^`;
}

export function sortDiagnostics(list: Diagnostic[]): Diagnostic[] {
  return list.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
}
