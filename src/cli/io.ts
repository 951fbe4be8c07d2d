export interface Io {
  out(line: string): void;
  err(line: string): void;
  usage(text: string): number;
}

export const processIo: Io = {
  out: (l) => process.stdout.write(l + "\n"),
  err: (l) => process.stderr.write(l + "\n"),
  usage: (t) => {
    process.stderr.write(`usage: ${t}\n`);
    return 2;
  },
};
