// The list's toolbar for the selected alerts: the actions, tag / untag, delete (confirmed inline, no browser
// dialog). Built once per list view, so that a live change re-rendering the rows never wipes a tag being typed
// or an open confirmation; ``update`` only changes the count and which buttons are enabled.

import {api, describe, path} from "./api.js";
import {clear, h, say} from "./dom.js";

export const BULK_ACTIONS = [["ack", "Ack"], ["unack", "Unack"], ["shelve", "Shelve"], ["unshelve", "Unshelve"],
  ["close", "Close"], ["open", "Re-open"]];

// ``selection()``: the ids to act on; ``done()``: called after every run (the list clears its selection).
export function bulkToolbar(selection, done) {
  const run = (label, call) => bulk(selection(), label, call).then(done);
  const buttons = BULK_ACTIONS.map(([action, label]) => h("button", {type: "button",
    onclick: () => run(label, (id) => api("PUT", path("alert", id, "action"), {body: {action, text: ""}}))}, label));
  const tag = h("input", {type: "text", placeholder: "tag", "aria-label": "Tag", size: 10});
  const tagging = (verb) => () => {
    const tags = tag.value.split(",").map((t) => t.trim()).filter(Boolean);
    if (tags.length) run(verb, (id) => api("PUT", path("alert", id, verb), {body: {tags}}));
  };
  const confirm = h("span", {class: "confirm"});
  const remove = h("button", {type: "button", class: "danger", onclick: () => {
    clear(confirm).append(`Delete ${selection().length} alert(s)? `,
      h("button", {type: "button", class: "danger", onclick: () => {
        clear(confirm);
        run("Delete", (id) => api("DELETE", path("alert", id)));
      }}, "Delete"),
      h("button", {type: "button", onclick: () => clear(confirm)}, "Cancel"));
  }}, "Delete…");
  const picked = h("span", {class: "picked"});
  const tagButtons = [h("button", {type: "button", onclick: tagging("tag")}, "Tag"),
    h("button", {type: "button", onclick: tagging("untag")}, "Untag")];
  const needSelection = [...buttons, ...tagButtons, remove];
  const element = h("div", {class: "bulk-inner"}, picked, ...buttons, tag, ...tagButtons, remove, confirm);
  return {
    element,
    update(count) {
      picked.textContent = `${count} selected`;
      for (const button of needSelection) button.disabled = !count;
      if (!count) clear(confirm);
    },
  };
}

// Apply one action to every id (four at a time); each refusal is reported with the server's words.
async function bulk(ids, label, call) {
  const refused = [];
  let done = 0;
  const queue = [...ids];
  const work = async () => {
    while (queue.length) {
      const id = queue.shift();
      try {
        await call(id);
        done += 1;
      } catch (error) {
        refused.push(`${id.slice(0, 8)}: ${describe(error)}`);
      }
    }
  };
  await Promise.all([work(), work(), work(), work()]);
  if (done) say(`${label}: ${done} alert(s) done`);
  if (refused.length) say(`${label} refused for ${refused.length}: ${refused.slice(0, 3).join("; ")}`, "error");
}
