/* Purchase Ledger 3.1 client (2012): renders every view from the JSON API with XMLHttpRequest; data entry in
   modal dialogs. Nothing is in the page until the script has fetched it. */
(function () {
  'use strict';

  var FIELDS = [
    { name: 'supplier_id', label: 'Supplier', kind: 'supplier' },
    { name: 'invoice_number', label: 'Invoice number' },
    { name: 'invoice_date', label: 'Invoice date', placeholder: 'DD/MM/YYYY' },
    { name: 'po_number', label: 'PO number', placeholder: 'PO123456' },
    { name: 'net', label: 'Net', placeholder: '0.00' },
    { name: 'vat', label: 'VAT', placeholder: '0.00' },
    { name: 'total', label: 'Total', placeholder: '0.00' },
    { name: 'notes', label: 'Notes / reference', kind: 'textarea' }
  ];
  var suppliers = null;
  var currentGrid = null;

  // --- helpers ----------------------------------------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === 'text') { node.textContent = attrs[key]; }
      else if (key.slice(0, 2) === 'on') { node.addEventListener(key.slice(2), attrs[key]); }
      else if (attrs[key] !== null && attrs[key] !== false) { node.setAttribute(key, attrs[key] === true ? '' : attrs[key]); }
    });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    });
    return node;
  }

  function money(text) {
    var parts = Number(text).toFixed(2).split('.');
    return '\u00a3' + parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ',') + '.' + parts[1];
  }

  function api(method, url, body, done) {
    var xhr = new XMLHttpRequest();
    xhr.open(method, url);
    xhr.setRequestHeader('Accept', 'application/json');
    if (body !== undefined) { xhr.setRequestHeader('Content-Type', 'application/json'); }
    xhr.onload = function () {
      var data;
      try { data = JSON.parse(xhr.responseText); } catch (e) { data = { error: 'server_error', message: 'The server gave an unexpected answer.' }; }
      if (xhr.status === 401 && url !== '/api/login') {
        // GETs are repeated once signed in again; a POST is left for the user to press again.
        showSignIn(data.message, method === 'GET' ? function () { api(method, url, body, done); }
                                                  : function () { done(401, data); });
        return;
      }
      done(xhr.status, data);
    };
    xhr.onerror = function () { done(0, { error: 'network', message: 'The server cannot be reached.' }); };
    xhr.send(body === undefined ? null : JSON.stringify(body));
  }

  // --- dialogs ----------------------------------------------------------------------------------

  var dialogCount = 0;

  function dialog(layerId, title, body, actions) {
    var layer = document.getElementById(layerId);
    var titleId = 'dialog-title-' + (++dialogCount);
    var box = el('div', { 'class': 'dialog', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': titleId }, [
      el('h2', { id: titleId, text: title }), el('div', { 'class': 'body' }, [body]),
      el('div', { 'class': 'actions' }, actions)
    ]);
    layer.innerHTML = '';
    layer.appendChild(box);
    layer.hidden = false;
    var first = box.querySelector('input, select, textarea, button');
    if (first) { first.focus(); }
    return box;
  }

  function closeDialog(layerId) {
    var layer = document.getElementById(layerId);
    layer.hidden = true;
    layer.innerHTML = '';
  }

  document.addEventListener('keydown', function (event) {
    if (event.key === 'Escape' && !document.getElementById('dialog-layer').hidden
        && document.getElementById('signin-layer').hidden) { closeDialog('dialog-layer'); }
  });

  function field(spec, value) {
    var id = 'f-' + spec.name;
    var control;
    if (spec.kind === 'supplier') {
      control = el('select', { id: id, name: spec.name },
        [el('option', { value: '', text: '-- choose a supplier --' })].concat((suppliers || []).map(function (s) {
          return el('option', { value: s.id, text: s.name + ' (' + s.id + ')' });
        })));
    } else if (spec.kind === 'textarea') {
      control = el('textarea', { id: id, name: spec.name, rows: '2', maxlength: '200' });
    } else {
      control = el('input', { id: id, name: spec.name, type: spec.type || 'text', placeholder: spec.placeholder || null,
                              autocomplete: 'off' });
    }
    control.value = value || '';
    control.setAttribute('aria-describedby', 'e-' + spec.name);
    return el('div', { 'class': 'field' }, [el('label', { 'for': id, text: spec.label }), control,
      el('span', { 'class': 'field-error', id: 'e-' + spec.name })]);
  }

  // --- signing in -------------------------------------------------------------------------------

  function showSignIn(message, then) {
    var note = el('p', { 'class': 'summary', role: 'alert', id: 'signin-message', text: message || '' });
    note.hidden = !message;
    var form = el('form', { id: 'signin-form', novalidate: true }, [
      note,
      field({ name: 'username', label: 'User name' }),
      field({ name: 'password', label: 'Password', type: 'password' })
    ]);
    var button = el('button', { type: 'submit', 'class': 'primary', form: 'signin-form', text: 'Sign in' });
    dialog('signin-layer', 'Sign in to Purchase Ledger', form, [button]);
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      button.disabled = true;
      api('POST', '/api/login', { username: form.username.value, password: form.password.value }, function (status, data) {
        button.disabled = false;
        if (status !== 200) {
          note.textContent = data.message;
          note.hidden = false;
          return;
        }
        closeDialog('signin-layer');
        showUser(data.user);
        then();
      });
    });
  }

  function showUser(user) {
    document.getElementById('who').textContent = user ? 'Signed in as ' + user : '';
    document.getElementById('tabs').hidden = !user;
    document.getElementById('sign-out').hidden = !user;
  }

  document.getElementById('sign-out').addEventListener('click', function () {
    api('POST', '/api/logout', {}, function () {
      showUser(null);
      document.getElementById('view').innerHTML = '';
      showSignIn('You have signed out.', start);
    });
  });

  // --- grids ------------------------------------------------------------------------------------

  function grid(spec) {
    var offset = 0;
    var query = '';
    var body = el('tbody');
    var status = el('p', { 'class': 'count', role: 'status', id: 'grid-status' });
    var more = el('button', { type: 'button', id: 'load-more', text: 'Load more', hidden: true,
                              onclick: function () { load(false); } });
    var search = el('input', { id: 'grid-search', type: 'search', placeholder: spec.placeholder });
    var searchForm = el('form', { role: 'search', onsubmit: function (event) {
      event.preventDefault();
      query = search.value.trim();
      load(true);
    } }, [el('label', { 'for': 'grid-search', text: spec.searchLabel }), search, el('button', { type: 'submit', text: 'Search' })]);
    var head = el('tr', {}, spec.columns.map(function (c) { return el('th', { scope: 'col', text: c.title }); }));
    var table = el('table', { 'class': 'grid', 'aria-label': spec.title }, [el('thead', {}, [head]), body]);
    var view = document.getElementById('view');
    view.innerHTML = '';
    view.appendChild(el('section', { 'aria-labelledby': 'view-title' }, [
      el('h1', { id: 'view-title', text: spec.title }),
      el('div', { 'class': 'toolbar' }, [searchForm].concat(spec.tools || [])),
      table, status, more
    ]));

    var generation = 0;  // a new search or a reload makes the answers still on their way stale

    function load(reset) {
      if (reset) { offset = 0; body.innerHTML = ''; generation += 1; }
      var asked = generation;
      status.textContent = 'Loading...';
      more.hidden = true;
      var url = spec.endpoint + '?q=' + encodeURIComponent(query) + '&offset=' + offset;
      api('GET', url, undefined, function (code, data) {
        if (asked !== generation) { return; }
        if (code !== 200) {
          status.textContent = data.message + ' ';
          status.appendChild(el('button', { type: 'button', text: 'Try again', onclick: function () { load(false); } }));
          return;
        }
        data.items.forEach(function (item) {
          body.appendChild(el('tr', { 'data-key': item[spec.key] }, spec.columns.map(function (c) {
            var content = c.render ? c.render(item) : (c.money ? money(item[c.key]) : String(item[c.key]));
            return el('td', { 'class': c.money ? 'money' : null }, [content]);
          })));
        });
        offset += data.items.length;
        status.textContent = data.total === 0 ? 'No ' + spec.noun + ' found.'
          : 'Showing ' + offset + ' of ' + data.total + ' ' + spec.noun + '.';
        more.hidden = !data.more;
      });
    }
    load(true);
    return { reload: function () { load(true); } };
  }

  function opener(text, open) {
    return el('button', { type: 'button', 'class': 'cell-link', text: text, onclick: open });
  }

  var VIEWS = {
    invoices: function () {
      return grid({
        title: 'Invoices', noun: 'invoices', endpoint: '/api/invoices', key: 'ref',
        searchLabel: 'Search invoices', placeholder: 'Reference, invoice number, supplier, PO or notes',
        tools: [el('button', { type: 'button', 'class': 'primary', id: 'new-invoice', text: 'New invoice', onclick: newInvoice })],
        columns: [
          { title: 'Reference', render: function (i) { return opener(i.ref, function () { showInvoice(i.ref); }); } },
          { title: 'Supplier', key: 'supplier_name' }, { title: 'Invoice number', key: 'invoice_number' },
          { title: 'Invoice date', key: 'invoice_date' }, { title: 'PO number', key: 'po_number' },
          { title: 'Net', key: 'net', money: true }, { title: 'VAT', key: 'vat', money: true },
          { title: 'Total', key: 'total', money: true },
          { title: 'Status', render: function (i) {
            return el('span', { 'class': i.match.passed ? 'status-ok' : 'status-hold', text: i.status });
          } },
          { title: 'Notes', key: 'notes' }
        ]
      });
    },
    orders: function () {
      return grid({
        title: 'Purchase orders', noun: 'purchase orders', endpoint: '/api/orders', key: 'po_number',
        searchLabel: 'Search purchase orders', placeholder: 'PO number or supplier',
        columns: [
          { title: 'PO number', render: function (o) { return opener(o.po_number, function () { showOrder(o.po_number); }); } },
          { title: 'Supplier', key: 'supplier_name' }, { title: 'Raised', key: 'raised' },
          { title: 'Ordered', key: 'ordered', money: true }, { title: 'Received', key: 'received', money: true },
          { title: 'Invoiced', key: 'invoiced', money: true }
        ]
      });
    },
    suppliers: function () {
      return grid({
        title: 'Suppliers', noun: 'suppliers', endpoint: '/api/suppliers', key: 'id',
        searchLabel: 'Search suppliers', placeholder: 'Supplier id or name',
        columns: [{ title: 'Supplier id', key: 'id' }, { title: 'Name', key: 'name' }, { title: 'Address', key: 'address' },
                  { title: 'VAT registration', key: 'vat_registration' }]
      });
    }
  };

  function route() {
    var name = (location.hash.replace(/^#\//, '') || 'invoices').split('/')[0];
    if (!VIEWS[name]) { name = 'invoices'; }
    Array.prototype.forEach.call(document.querySelectorAll('#tabs a'), function (a) {
      if (a.getAttribute('data-view') === name) { a.setAttribute('aria-current', 'page'); } else { a.removeAttribute('aria-current'); }
    });
    currentGrid = VIEWS[name]();
  }

  // --- read-only dialogs ------------------------------------------------------------------------

  function details(pairs) {
    var list = el('dl', { 'class': 'details' });
    pairs.forEach(function (pair) {
      list.appendChild(el('dt', { text: pair[0] }));
      list.appendChild(el('dd', {}, [pair[1]]));
    });
    return list;
  }

  function closeButton() {
    return el('button', { type: 'button', text: 'Close', onclick: function () { closeDialog('dialog-layer'); } });
  }

  function showInvoice(ref) {
    api('GET', '/api/invoice?ref=' + encodeURIComponent(ref), undefined, function (code, i) {
      if (code !== 200) { return notice(i.message); }
      var reasons = el('ul', { 'class': 'reasons' }, i.match.reasons.map(function (r) { return el('li', { text: r }); }));
      dialog('dialog-layer', 'Invoice ' + i.ref, el('div', {}, [details([
        ['Reference', i.ref], ['Supplier', i.supplier_name + ' (' + i.supplier_id + ')'],
        ['Invoice number', i.invoice_number], ['Invoice date', i.invoice_date], ['PO number', i.po_number],
        ['Net', money(i.net)], ['VAT', money(i.vat)], ['Total', money(i.total)], ['Status', i.status],
        ['Notes / reference', i.notes], ['Ordered', money(i.match.ordered)], ['Received', money(i.match.received)],
        ['Invoiced before', money(i.match.invoiced_before)], ['Tolerance', i.match.tolerance_pct + '%'],
        ['Entered', i.entered_by + ' ' + i.entered_at]
      ]), reasons]), [closeButton()]);
    });
  }

  function showOrder(po) {
    api('GET', '/api/order?po=' + encodeURIComponent(po), undefined, function (code, o) {
      if (code !== 200) { return notice(o.message); }
      var rows = o.lines.map(function (l) {
        return el('tr', {}, [el('td', { text: String(l.line) }), el('td', { text: l.description }),
          el('td', { text: String(l.quantity) }), el('td', { 'class': 'money', text: money(l.unit_price) }),
          el('td', { text: String(l.received) }), el('td', { 'class': 'money', text: money(l.ordered_net) }),
          el('td', { 'class': 'money', text: money(l.received_net) })]);
      });
      var head = el('tr', {}, ['Line', 'Description', 'Ordered', 'Unit price', 'Received', 'Ordered net', 'Received net']
        .map(function (t) { return el('th', { scope: 'col', text: t }); }));
      dialog('dialog-layer', 'Purchase order ' + o.po_number, el('div', {}, [details([
        ['Supplier', o.supplier_name + ' (' + o.supplier_id + ')'], ['Raised', o.raised],
        ['Ordered', money(o.ordered)], ['Received', money(o.received)], ['Invoiced', money(o.invoiced)]
      ]), el('table', { 'class': 'grid', 'aria-label': 'Order lines' }, [el('thead', {}, [head]), el('tbody', {}, rows)])]),
      [closeButton()]);
    });
  }

  function notice(message, retry) {
    var banner = document.getElementById('banner');
    banner.textContent = message + ' ';
    if (retry) {
      banner.appendChild(el('button', { type: 'button', text: 'Try again', onclick: function () {
        banner.hidden = true;
        retry();
      } }));
    }
    banner.hidden = false;
  }

  // --- entering an invoice ----------------------------------------------------------------------

  function newInvoice() {
    if (suppliers === null) {
      api('GET', '/api/suppliers', undefined, function (code, data) {
        if (code !== 200) { return notice(data.message); }
        suppliers = data.items;
        newInvoice();
      });
      return;
    }
    var summary = el('div', { 'class': 'summary', role: 'alert', id: 'invoice-errors', hidden: true });
    var form = el('form', { id: 'invoice-form', novalidate: true }, [summary].concat(FIELDS.map(function (f) { return field(f); })));
    var po = form.po_number;
    var poSummary = el('span', { 'class': 'po-summary', id: 'po-summary', 'aria-live': 'polite' });
    po.parentNode.insertBefore(poSummary, po.nextSibling.nextSibling);
    po.addEventListener('change', function () {
      if (!po.value.trim()) { poSummary.textContent = ''; return; }
      poSummary.textContent = 'Looking up ' + po.value.trim() + '...';
      api('GET', '/api/order?po=' + encodeURIComponent(po.value.trim()), undefined, function (code, o) {
        poSummary.textContent = code === 200
          ? o.po_number + ': ' + o.supplier_name + '. Ordered ' + money(o.ordered) + ', received ' + money(o.received) +
            ', invoiced ' + money(o.invoiced) + '.'
          : o.message;
      });
    });
    var save = el('button', { type: 'submit', 'class': 'primary', form: 'invoice-form', text: 'Save invoice' });
    var cancel = el('button', { type: 'button', text: 'Cancel', onclick: function () { closeDialog('dialog-layer'); } });
    dialog('dialog-layer', 'New invoice', form, [cancel, save]);
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var values = {};
      FIELDS.forEach(function (f) { values[f.name] = form[f.name].value; });
      FIELDS.forEach(function (f) {
        form[f.name].removeAttribute('aria-invalid');
        document.getElementById('e-' + f.name).textContent = '';
      });
      summary.hidden = true;
      save.disabled = true;
      save.textContent = 'Saving...';
      api('POST', '/api/invoices', values, function (code, data) {
        save.disabled = false;
        save.textContent = 'Save invoice';
        if (code === 201) { return saved(data.invoice); }
        summary.textContent = code === 401 ? 'You are signed in again. Press Save invoice to save the invoice.' : data.message;
        summary.hidden = false;
        Object.keys(data.errors || {}).forEach(function (name) {
          form[name].setAttribute('aria-invalid', 'true');
          document.getElementById('e-' + name).textContent = data.errors[name];
        });
      });
    });
  }

  function saved(invoice) {
    var result = el('div', {}, [
      el('p', { id: 'save-result', role: 'status', text: 'Invoice ' + invoice.ref + ' saved. Status: ' + invoice.status + '.' }),
      el('ul', { 'class': 'reasons' }, invoice.match.reasons.map(function (r) { return el('li', { text: r }); }))
    ]);
    var another = el('button', { type: 'button', text: 'Enter another', onclick: newInvoice });
    var close = el('button', { type: 'button', 'class': 'primary', text: 'Close', onclick: function () {
      closeDialog('dialog-layer');
      if (currentGrid) { currentGrid.reload(); }
    } });
    dialog('dialog-layer', 'Invoice saved', result, [another, close]);
  }

  // --- start ------------------------------------------------------------------------------------

  function start() {
    api('GET', '/api/session', undefined, function (code, data) {
      if (code !== 200) { return notice(data.message, start); }
      showUser(data.user);
      route();
    });
  }

  window.addEventListener('hashchange', function () { if (!document.getElementById('tabs').hidden) { route(); } });
  start();
}());
