/** A short notice (an ARIA alert) that hides itself; the field it is about is marked invalid meanwhile. */
export class Toast {
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly el: HTMLElement,
    private readonly showMs = 6000,
  ) {}

  show(text: string, field?: HTMLElement): void {
    this.el.textContent = text;
    this.el.hidden = false;
    if (field) field.setAttribute('aria-invalid', 'true');
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.el.hidden = true;
      field?.removeAttribute('aria-invalid');
    }, this.showMs);
  }

  dispose(): void {
    clearTimeout(this.timer);
  }
}
