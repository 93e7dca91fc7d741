// The checkout page's entry: the module does the work.
import { startCheckout } from "./_checkout.js";

const root = document.querySelector("[data-checkout]");
if (root) startCheckout(root);
