/** Vite's `?raw` imports: a file's text (the docs test reads the README and the example so). */
declare module '*?raw' {
  const text: string;
  export default text;
}
