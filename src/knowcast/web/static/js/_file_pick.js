// File fields (templates/_file_pick.html): the chosen file's name beside the translated button, or "no file" again.

export function startFilePicks() {
  document.addEventListener("change", (event) => {
    const input = event.target;
    if (!(input instanceof HTMLInputElement) || !input.classList.contains("file-native")) return;
    const label = input.parentElement && input.parentElement.querySelector(".file-name");
    if (!(label instanceof HTMLElement)) return;
    const names = [...(input.files || [])].map((file) => file.name);
    label.textContent = names.length ? names.join(", ") : label.dataset.empty || "";
  });
}
