// « Afficher le mot de passe »: shows what is typed in the password field the box
// names (data-montre), for a phone's small keys. Without this script the box stays
// hidden, since it could do nothing. Each page may load it more than once: each box
// is wired once.
for (const box of document.querySelectorAll("input[data-montre]")) {
  const field = document.getElementById(box.dataset.montre);
  if (!field || box.dataset.pret) continue;
  box.dataset.pret = "1";
  box.closest(".show-password").hidden = false;
  box.addEventListener("change", () => {
    field.type = box.checked ? "text" : "password";
  });
  // Sent as a password, so the browser offers to remember it as one.
  field.form?.addEventListener("submit", () => {
    field.type = "password";
  });
}
