// The console's enhancements. Every page works without this file: links open the
// no-JavaScript pages, Add and Remove post the form back. With it, dialogs open in place
// (focus trapped by showModal, Escape closes, focus returns to the opener), Add and
// Remove edit the lists in place, and copy buttons fill the clipboard.
(function () {
  'use strict';

  document.documentElement.classList.add('js');

  // --- dialogs -------------------------------------------------------------
  let opener = null;

  function openDialog(dialog, from) {
    opener = from;
    dialog.showModal();
  }

  document.addEventListener('close', function (event) {
    if (event.target instanceof HTMLDialogElement && opener) {
      const back = opener;
      opener = null;
      back.focus();
    }
  }, true);

  document.addEventListener('click', function (event) {
    const target = event.target instanceof Element ? event.target : null;
    if (!target) return;

    const open = target.closest('[data-dialog-open]');
    if (open) {
      const dialog = document.getElementById(open.getAttribute('data-dialog-open'));
      if (dialog instanceof HTMLDialogElement) {
        event.preventDefault();
        openDialog(dialog, open);
      }
      return;
    }

    const close = target.closest('[data-dialog-close]');
    if (close) {
      const dialog = close.closest('dialog');
      if (dialog) dialog.close();
      return;
    }

    const del = target.closest('[data-delete-action]');
    if (del) {
      const dialog = document.getElementById('delete-dialog');
      if (dialog instanceof HTMLDialogElement) {
        event.preventDefault();
        const form = dialog.querySelector('form');
        form.setAttribute('action', del.getAttribute('data-delete-action'));
        dialog.querySelector('[data-delete-slot="name"]').textContent = del.getAttribute('data-delete-name');
        const isDefault = del.getAttribute('data-delete-default') === 'true';
        const defaultPart = dialog.querySelector('[data-delete-slot="default"]');
        defaultPart.hidden = !isDefault;
        const force = defaultPart.querySelector('input[name="force"]');
        force.checked = false;
        force.required = isDefault;
        force.disabled = !isDefault;
        openDialog(dialog, del);
      }
      return;
    }

    // A click on a modal dialog's backdrop lands on the dialog itself: close it.
    if (target instanceof HTMLDialogElement && target.open) {
      const box = target.getBoundingClientRect();
      const inside = event.clientX >= box.left && event.clientX <= box.right &&
        event.clientY >= box.top && event.clientY <= box.bottom;
      if (!inside) target.close();
      return;
    }

    const copy = target.closest('[data-copy], [data-copy-from]');
    if (copy) {
      event.preventDefault();
      const from = copy.getAttribute('data-copy-from');
      const text = from ? document.getElementById(from).textContent : copy.getAttribute('data-copy');
      copyText(copy, text);
      return;
    }

    const add = target.closest('[data-add]');
    if (add) {
      event.preventDefault();
      addEntry(add.getAttribute('data-add'));
      return;
    }

    const remove = target.closest('[data-remove-entry]');
    if (remove) {
      event.preventDefault();
      const editor = remove.closest('.list-editor');
      remove.closest('li').remove();
      const input = editor && editor.querySelector('[data-add-input]');
      if (input) input.focus();
      announce(editor, 'Removed.');
    }
  });

  // --- copy ----------------------------------------------------------------
  function copyText(button, text) {
    const done = function (message) {
      const label = button.getAttribute('data-label') || button.getAttribute('aria-label') || button.textContent;
      button.setAttribute('data-label', label);
      button.classList.add('copied');
      button.setAttribute('title', message);
      announce(button, message);
      setTimeout(function () { button.classList.remove('copied'); button.setAttribute('title', 'Copy to clipboard'); }, 2000);
    };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(function () { done('Copied'); }, function () { done('Copy failed: select the text and copy it'); });
    } else {
      done('Copy failed: select the text and copy it');
    }
  }

  // --- list editors (redirect URIs, scopes) --------------------------------
  function addEntry(name) {
    const input = document.querySelector('[data-add-input="' + name + '"]');
    const list = document.getElementById(name + '-entries');
    const template = document.getElementById(name + '-entry');
    if (!input || !list || !template) return;
    const values = name === 'scope' ? input.value.split(/\s+/) : [input.value];
    const present = Array.from(list.querySelectorAll('input[type="hidden"]')).map(function (i) { return i.value; });
    let added = 0;
    values.map(function (v) { return v.trim(); }).filter(Boolean).forEach(function (value) {
      if (present.indexOf(value) !== -1) return;
      present.push(value);
      const item = template.content.firstElementChild.cloneNode(true);
      item.querySelector('code').textContent = value;
      item.querySelector('input').value = value;
      item.querySelector('button').setAttribute('aria-label', 'Remove ' + value);
      list.appendChild(item);
      added += 1;
    });
    input.value = '';
    input.focus();
    if (added) announce(list, 'Added.');
  }

  // Tab and Shift+Tab go round the open dialog's controls rather than out to the
  // browser's own (showModal already makes the page behind inert).
  document.addEventListener('keydown', function (event) {
    if (event.key !== 'Tab') return;
    const dialog = document.querySelector('dialog[open]');
    if (!dialog) return;
    const focusable = Array.from(dialog.querySelectorAll('a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled])'))
      .filter(function (el) { return el.offsetParent !== null; });
    if (!focusable.length) return;
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    if (event.shiftKey && (document.activeElement === first || !dialog.contains(document.activeElement))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (document.activeElement === last || !dialog.contains(document.activeElement))) {
      event.preventDefault();
      first.focus();
    }
  });

  // Enter in an Add field adds, as the button beside it does.
  document.addEventListener('keydown', function (event) {
    const target = event.target;
    if (event.key === 'Enter' && target instanceof HTMLInputElement && target.hasAttribute('data-add-input')) {
      event.preventDefault();
      addEntry(target.getAttribute('data-add-input'));
    }
  });

  // --- a polite live region for what happened -------------------------------
  let live = null;
  function announce(near, message) {
    if (!live) {
      live = document.createElement('p');
      live.className = 'sr-only';
      live.setAttribute('role', 'status');
      document.body.appendChild(live);
    }
    live.textContent = '';
    setTimeout(function () { live.textContent = message; }, 50);
  }
})();
