/**
 * One fix to how yargs lays out help (through cliui): an option's type note
 * ("[boolean]") is put on the description's line when it fits, but when the
 * description ends exactly where the note's padding begins, cliui joins the two
 * with no space ("error causes[boolean]"). Here the note goes to a line of its own
 * then. Applied once, to cliui's class, before yargs draws any help.
 */
import cliui from 'cliui';

interface Line {
  text: string;
  span?: boolean;
}
interface CliuiProto {
  wrap?: unknown;
  renderInline?(this: CliuiProto, source: string, previous: Line): string;
  sifSpacingFixed?: boolean;
}

export function fixHelpSpacing(): void {
  const proto = Object.getPrototypeOf((cliui as unknown as (o: object) => object)({})) as CliuiProto;
  const original = proto.renderInline;
  if (!original || proto.sifSpacingFixed) return; // another cliui: leave it as it is
  proto.renderInline = function (source, previous) {
    const lead = /^ */.exec(source)![0].length;
    const touching = previous.span && this.wrap && lead > 0 && lead === [...previous.text.trimEnd()].length;
    return touching ? source : original.call(this, source, previous);
  };
  proto.sifSpacingFixed = true;
}
