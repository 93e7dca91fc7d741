// "My orders": each "去支付" counts its hold time down; one that runs out reloads the page (it then says expired).
const holds = [...document.querySelectorAll("[data-hold]")].map((node) => ({ node, until: Date.now() + Number(node.dataset.hold) * 1000 }));
if (holds.length) {
  const timer = setInterval(() => {
    for (const { node, until } of holds) {
      const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      node.textContent = `${String(Math.floor(left / 60)).padStart(2, "0")}:${String(left % 60).padStart(2, "0")}`;
      if (left === 0) {
        clearInterval(timer);
        window.location.reload();
      }
    }
  }, 1000);
}
