-- tastypy's Op engine: apply an Op to a value's JSON text inside Redis.
--
-- Values are the compact JSON normal form Python writes (no whitespace,
-- ensure_ascii off): cjson would turn [] into {}, reorder keys and round big
-- ints, so no value is ever decoded. A tokenizer finds the span of each
-- value (strings and numbers stay their raw text) and the change is a splice
-- of texts. Keys and arguments arrive already encoded by the same Python
-- encoder, so equal strings are equal texts.
--
-- tastypy_apply(text, argv, first) reads one Op from argv[first..] (layout:
-- tastypy/redis/ops.py op_args) and returns the new text and the result's
-- JSON text, or nil, kind, detail: kind 'KeyError' / 'IndexError' with the
-- JSON text of the exception's argument, or 'fallback' when Python must do
-- it (its meaning is Python's own: float or big int arithmetic, equality,
-- type errors...).
-- tastypy_record_bits(text) reads _done, _tries and _aborted of a record.
-- tastypy_compact(text): whether text is one JSON value in the compact form
-- the engine reads (no whitespace outside strings, nothing after it): text
-- another client wrote may be neither, and the engine must not splice it.
-- tastypy_record_fields(text): done, tries and aborted texts of a record
-- whose special fields are anywhere, and the text of the other members
-- after them (',...}' or '}'); nil when one is missing or not of its kind.
-- All exist once tastypy_load() has run: a Redis 7.0 function library
-- has no string library while it loads, so it runs at the first call.
-- tastypy_json(text): tastypy_compact, and every number, true, false and
-- null in it spelled as JSON spells them (NaN, 01 or None are not).
local tastypy_apply, tastypy_record_bits, tastypy_compact, tastypy_record_fields, tastypy_json
local function tastypy_load()
  local byte, find, sub, match = string.byte, string.find, string.sub, string.match
  local format, concat, tonumber = string.format, table.concat, tonumber
  local NULL = 'null'
  -- Ints strictly inside +-2^53 are exact in a Lua number.
  local TWO53 = 9007199254740992
  local INPLACE = {__iadd__ = true, __isub__ = true, __ior__ = true}

  local function fallback()
    return nil, 'fallback', ''
  end

  -- The position of the quote closing the string that opens at i.
  local function str_end(s, i)
    local j = i + 1
    while true do
      local k = find(s, '["\\]', j)
      if byte(s, k) == 34 then
        return k
      end
      j = k + 2
    end
  end

  -- The position of the last byte of the value that starts at i.
  local function val_end(s, i)
    local c = byte(s, i)
    if c == 34 then
      return str_end(s, i)
    end
    if c == 91 or c == 123 then
      local depth, j = 0, i
      while true do
        local k = find(s, '[%[%]{}"]', j)
        local d = byte(s, k)
        if d == 34 then
          j = str_end(s, k) + 1
        else
          if d == 91 or d == 123 then
            depth = depth + 1
          else
            depth = depth - 1
            if depth == 0 then
              return k
            end
          end
          j = k + 1
        end
      end
    end
    local _, e = find(s, '^[^,%]}]*', i)
    return e
  end

  -- Starts and ends of the items of the list (members of the dict) s[a..b].
  local function spans(s, a, b, dict)
    local starts, ends, n = {}, {}, 0
    local i = a + 1
    if i == b then
      return starts, ends, 0
    end
    while true do
      local v = i
      if dict then
        v = str_end(s, i) + 2
      end
      local e = val_end(s, v)
      n = n + 1
      starts[n], ends[n] = i, e
      if e + 1 == b then
        return starts, ends, n
      end
      i = e + 2
    end
  end

  -- Key start, value start and value end of the member `key` of the dict s[a..b].
  local function dict_find(s, a, b, key)
    local i, n = a + 1, #key
    if i == b then
      return nil
    end
    while true do
      local ke = str_end(s, i)
      local ve = val_end(s, ke + 2)
      if ke - i + 1 == n and sub(s, i, ke) == key then
        return i, ke + 2, ve
      end
      if ve + 1 == b then
        return nil
      end
      i = ve + 2
    end
  end

  -- The int a text stands for, when it is one strictly inside +-2^53 and
  -- spelled as JSON spells it (01 is no JSON: Python decides).
  local function small_int(t)
    if #t <= 17 and (find(t, '^%-?[1-9]%d*$') or t == '0') then
      local x = tonumber(t)
      if x > -TWO53 and x < TWO53 then
        return x
      end
    end
    return nil
  end

  -- The key text a dict key argument becomes (Python: 1 -> "1", None -> "null").
  local function key_text(t)
    local c = byte(t, 1)
    if c == 34 then
      return t
    end
    if c == 91 or c == 123 or c == 83 then
      return nil -- list, dict, slice: Python's TypeError
    end
    return '"' .. t .. '"'
  end

  local function splice(s, a, b, text)
    return sub(s, 1, a - 1) .. text .. sub(s, b + 1)
  end

  -- s with `items` (one or more comma-joined item texts) added at the end of s[a..b].
  local function add_items(s, a, b, items)
    if b == a + 1 then
      return sub(s, 1, a) .. items .. sub(s, b)
    end
    return sub(s, 1, b - 1) .. ',' .. items .. sub(s, b)
  end

  -- s without the item s[i..e] of the container s[a..b] and its comma.
  local function cut(s, a, i, e)
    if byte(s, e + 1) == 44 then
      return sub(s, 1, i - 1) .. sub(s, e + 2)
    end
    if i == a + 1 then
      return sub(s, 1, i - 1) .. sub(s, e + 1)
    end
    return sub(s, 1, i - 2) .. sub(s, e + 1)
  end

  -- s with the items [lo, hi) (0-based) of the list s[a..b] replaced by `items`.
  local function replace_items(s, a, b, starts, ends, n, lo, hi, items)
    local parts, k = {}, 0
    if lo > 0 then
      k = k + 1
      parts[k] = sub(s, a + 1, ends[lo])
    end
    if items ~= '' then
      k = k + 1
      parts[k] = items
    end
    if hi < n then
      k = k + 1
      parts[k] = sub(s, starts[hi + 1], b - 1)
    end
    return sub(s, 1, a) .. concat(parts, ',') .. sub(s, b)
  end

  local function set_key(s, a, b, key, value)
    local _, vs, ve = dict_find(s, a, b, key)
    if vs then
      return splice(s, vs, ve, value)
    end
    return add_items(s, a, b, key .. ':' .. value)
  end

  -- dict.update(obj, **kwargs): obj a dict text or nil, kw {key, value, ...} texts.
  local function update(s, a, b, obj, kw)
    local given, n = {}, 0
    if obj then
      local starts, ends, m = spans(obj, 1, #obj, true)
      for j = 1, m do
        local ke = str_end(obj, starts[j])
        given[n + 1], given[n + 2] = sub(obj, starts[j], ke), sub(obj, ke + 2, ends[j])
        n = n + 2
      end
    end
    for j = 1, #kw do
      given[n + j] = kw[j]
    end
    for j = 1, #given, 2 do
      local t = set_key(s, a, b, given[j], given[j + 1])
      b = b + #t - #s
      s = t
    end
    return s
  end

  -- lo, hi of a slice argument 'S<start>:<stop>:<step>' over n items, step 1 only.
  local function slice_bounds(t, n)
    local first, last, step = match(t, '^S([^:]*):([^:]*):([^:]*)$')
    if not first or (step ~= '' and step ~= '1') then
      return nil
    end
    local function bound(x, default)
      if x == '' then
        return default
      end
      local v = small_int(x)
      if v and v < 0 then
        v = v + n
        if v < 0 then
          v = 0
        end
      elseif v and v > n then
        v = n
      end
      return v
    end
    local lo, hi = bound(first, 0), bound(last, n)
    if not lo or not hi then
      return nil
    end
    if hi < lo then
      hi = lo
    end
    return lo, hi
  end

  -- Start and end of the value at `steps` inside s[a..b].
  local function walk(s, a, b, steps)
    for j = 1, #steps do
      local step, c = steps[j], byte(s, a)
      if c == 123 then
        local k = byte(step, 1)
        if k == 91 or k == 123 or k == 83 then
          return fallback()
        end
        local ks, vs, ve
        if k == 34 then
          ks, vs, ve = dict_find(s, a, b, step)
        end
        if not ks then
          return nil, 'KeyError', step
        end
        a, b = vs, ve
      elseif c == 91 then
        local i = small_int(step)
        if not i then
          return fallback()
        end
        local starts, ends, n = spans(s, a, b)
        if i < 0 then
          i = i + n
        end
        if i < 0 or i >= n then
          return nil, 'IndexError', '"list index out of range"'
        end
        a, b = starts[i + 1], ends[i + 1]
      else
        return fallback()
      end
    end
    return a, b
  end

  local function inplace(s, a, b, method, arg)
    local c, d = byte(s, a), byte(arg, 1)
    if method == '__ior__' then
      if c == 123 and d == 123 then
        return update(s, a, b, arg, {}), NULL
      end
      return fallback()
    end
    if method == '__iadd__' and c == 34 and d == 34 then
      return splice(s, a, b, sub(s, a, b - 1) .. sub(arg, 2)), NULL
    end
    if method == '__iadd__' and c == 91 and d == 91 then
      if #arg == 2 then
        return s, NULL
      end
      return add_items(s, a, b, sub(arg, 2, -2)), NULL
    end
    local x, y = small_int(sub(s, a, b)), small_int(arg)
    if x and y then
      local r
      if method == '__iadd__' then
        r = x + y
      else
        r = x - y
      end
      if r > -TWO53 and r < TWO53 then
        return splice(s, a, b, format('%d', r)), NULL
      end
    end
    return fallback()
  end

  local function dict_call(s, a, b, method, args, nargs, kw)
    if method == '__setitem__' and nargs == 2 then
      local key = key_text(args[1])
      if not key then
        return fallback()
      end
      return set_key(s, a, b, key, args[2]), NULL
    end
    if (method == '__delitem__' and nargs == 1) or (method == 'pop' and (nargs == 1 or nargs == 2)) then
      local key = args[1]
      local k = byte(key, 1)
      if k == 91 or k == 123 or k == 83 then
        return fallback()
      end
      local ks, vs, ve
      if k == 34 then
        ks, vs, ve = dict_find(s, a, b, key)
      end
      if not ks then
        if method == 'pop' and nargs == 2 then
          return s, args[2]
        end
        return nil, 'KeyError', key
      end
      local result = NULL
      if method == 'pop' then
        result = sub(s, vs, ve)
      end
      return cut(s, a, ks, ve), result
    end
    if method == 'popitem' and nargs == 0 then
      if b == a + 1 then
        return nil, 'KeyError', '"popitem(): dictionary is empty"'
      end
      local starts, ends, n = spans(s, a, b, true)
      local ke = str_end(s, starts[n])
      local pair = '[' .. sub(s, starts[n], ke) .. ',' .. sub(s, ke + 2, ends[n]) .. ']'
      return cut(s, a, starts[n], ends[n]), pair
    end
    if method == 'clear' and nargs == 0 then
      return splice(s, a, b, '{}'), NULL
    end
    if method == 'setdefault' and (nargs == 1 or nargs == 2) then
      local key = key_text(args[1])
      if not key then
        return fallback()
      end
      local _, vs, ve = dict_find(s, a, b, key)
      if vs then
        return s, sub(s, vs, ve)
      end
      local value = args[2] or NULL
      return add_items(s, a, b, key .. ':' .. value), value
    end
    if method == 'update' and nargs <= 1 then
      if nargs == 1 and byte(args[1], 1) ~= 123 then
        return fallback()
      end
      return update(s, a, b, args[1], kw), NULL
    end
    return fallback()
  end

  local function list_call(s, a, b, method, args, nargs)
    if method == 'append' and nargs == 1 then
      return add_items(s, a, b, args[1]), NULL
    end
    if method == 'extend' and nargs == 1 then
      local v = args[1]
      if byte(v, 1) ~= 91 then
        return fallback()
      end
      if #v == 2 then
        return s, NULL
      end
      return add_items(s, a, b, sub(v, 2, -2)), NULL
    end
    if method == 'clear' and nargs == 0 then
      return splice(s, a, b, '[]'), NULL
    end
    local starts, ends, n = spans(s, a, b)
    if method == 'pop' and nargs <= 1 then
      local i = -1
      if nargs == 1 then
        i = small_int(args[1])
        if not i then
          return fallback()
        end
      end
      if n == 0 then
        return nil, 'IndexError', '"pop from empty list"'
      end
      if i < 0 then
        i = i + n
      end
      if i < 0 or i >= n then
        return nil, 'IndexError', '"pop index out of range"'
      end
      return cut(s, a, starts[i + 1], ends[i + 1]), sub(s, starts[i + 1], ends[i + 1])
    end
    if method == 'insert' and nargs == 2 then
      local i = small_int(args[1])
      if not i then
        return fallback()
      end
      if i < 0 then
        i = i + n
        if i < 0 then
          i = 0
        end
      elseif i > n then
        i = n
      end
      return replace_items(s, a, b, starts, ends, n, i, i, args[2]), NULL
    end
    if (method == '__setitem__' and nargs == 2) or (method == '__delitem__' and nargs == 1) then
      local where, items = args[1], ''
      local lo, hi
      if byte(where, 1) == 83 then
        lo, hi = slice_bounds(where, n)
        if not lo then
          return fallback()
        end
        if method == '__setitem__' then
          if byte(args[2], 1) ~= 91 then
            return fallback()
          end
          items = sub(args[2], 2, -2)
        end
      else
        lo = small_int(where)
        if not lo then
          return fallback()
        end
        if lo < 0 then
          lo = lo + n
        end
        if lo < 0 or lo >= n then
          return nil, 'IndexError', '"list assignment index out of range"'
        end
        hi = lo + 1
        if method == '__setitem__' then
          return splice(s, starts[hi], ends[hi], args[2]), NULL
        end
      end
      return replace_items(s, a, b, starts, ends, n, lo, hi, items), NULL
    end
    if method == 'reverse' and nargs == 0 then
      local parts = {}
      for j = 1, n do
        parts[j] = sub(s, starts[n + 1 - j], ends[n + 1 - j])
      end
      return splice(s, a, b, '[' .. concat(parts, ',') .. ']'), NULL
    end
    return fallback()
  end

  tastypy_apply = function(s, argv, first)
    local method = argv[first]
    local p = first + 1
    local steps, args, kw = {}, {}, {}
    for j = 1, tonumber(argv[p]) do
      steps[j] = argv[p + j]
    end
    p = p + #steps + 1
    local nargs = tonumber(argv[p])
    for j = 1, nargs do
      args[j] = argv[p + j]
    end
    p = p + nargs + 1
    for j = 1, 2 * tonumber(argv[p]) do
      kw[j] = argv[p + j]
    end
    -- A slice is an index, never a value (Python refuses to store one).
    local index = method == '__setitem__' or method == '__delitem__'
    for j = 1, nargs do
      if byte(args[j], 1) == 83 and not (index and j == 1) then
        return fallback()
      end
    end
    for j = 2, #kw, 2 do
      if byte(kw[j], 1) == 83 then
        return fallback()
      end
    end
    local a, b, detail = walk(s, 1, #s, steps)
    if not a then
      return nil, b, detail
    end
    if INPLACE[method] then
      if nargs ~= 1 or #kw ~= 0 then
        return fallback()
      end
      return inplace(s, a, b, method, args[1])
    end
    if #kw ~= 0 and method ~= 'update' then
      return fallback()
    end
    local c = byte(s, a)
    if c == 123 then
      return dict_call(s, a, b, method, args, nargs, kw)
    end
    if c == 91 then
      return list_call(s, a, b, method, args, nargs)
    end
    return fallback()
  end

  tastypy_compact = function(s)
    if #s == 0 then
      return false
    end
    local j = 1
    while true do
      local k = find(s, '[%s"]', j)
      if not k then
        break
      end
      if byte(s, k) ~= 34 then
        return false
      end
      j = str_end(s, k) + 1
    end
    return val_end(s, 1) == #s
  end

  local function json_number(t)
    local i, _, e = 1, nil, nil
    if byte(t, 1) == 45 then
      i = 2
    end
    _, e = find(t, '^0', i)
    if not e then
      _, e = find(t, '^[1-9]%d*', i)
    end
    if not e then
      return false
    end
    i = e + 1
    if byte(t, i) == 46 then
      _, e = find(t, '^%d+', i + 1)
      if not e then
        return false
      end
      i = e + 1
    end
    local c = byte(t, i)
    if c == 101 or c == 69 then
      _, e = find(t, '^[%+%-]?%d+', i + 1)
      if not e then
        return false
      end
      i = e + 1
    end
    return i == #t + 1
  end

  local LITERALS = {['true'] = true, ['false'] = true, ['null'] = true}

  local function scalars_ok(part)
    for t in string.gmatch(part, '[^%[%]{},:]+') do
      if not LITERALS[t] and not json_number(t) then
        return false
      end
    end
    return true
  end

  tastypy_json = function(s)
    if not tastypy_compact(s) then
      return false
    end
    local j = 1
    while true do
      local k = find(s, '"', j, true)
      if not scalars_ok(sub(s, j, (k or #s + 1) - 1)) then
        return false
      end
      if not k then
        return true
      end
      j = str_end(s, k) + 1
    end
  end

  tastypy_record_fields = function(s)
    if byte(s, 1) ~= 123 or not tastypy_compact(s) then
      return nil
    end
    local starts, ends, n = spans(s, 1, #s, true)
    local found, others = {}, {}
    for j = 1, n do
      local ke = str_end(s, starts[j])
      local name = sub(s, starts[j], ke)
      if name == '"_done"' or name == '"_tries"' or name == '"_aborted"' then
        if found[name] then
          return nil -- a field twice: which one holds is not the engine's to say
        end
        found[name] = sub(s, ke + 2, ends[j])
      else
        others[#others + 1] = sub(s, starts[j], ends[j])
      end
    end
    local d, t, a = found['"_done"'], found['"_tries"'], found['"_aborted"']
    if not (d == 'true' or d == 'false') or not (a == 'true' or a == 'false')
      or not t or not find(t, '^%d+$') or (#t > 1 and byte(t, 1) == 48) then
      return nil
    end
    if #others == 0 then
      return d, t, a, '}'
    end
    return d, t, a, ',' .. concat(others, ',') .. '}'
  end

  -- bits (done 1, tried 2, aborted 4) and tries of a record's text, or nil
  -- when a field is missing or not of its kind (then Python must decide).
  tastypy_record_bits = function(s)
    local b = #s
    if byte(s, 1) ~= 123 or b == 2 then
      return nil
    end
    local done, tries, aborted
    local i = 2
    while true do
      local ke = str_end(s, i)
      local ve = val_end(s, ke + 2)
      local key = sub(s, i, ke)
      if key == '"_done"' then
        done = sub(s, ke + 2, ve)
      elseif key == '"_tries"' then
        tries = sub(s, ke + 2, ve)
      elseif key == '"_aborted"' then
        aborted = sub(s, ke + 2, ve)
      end
      if (done and tries and aborted) or ve + 1 == b then
        break
      end
      i = ve + 2
    end
    if not (done == 'true' or done == 'false') or not (aborted == 'true' or aborted == 'false')
      or not tries or not find(tries, '^%d+$') then
      return nil
    end
    local bits = 0
    if done == 'true' then
      bits = bits + 1
    end
    if tries ~= '0' then
      bits = bits + 2
    end
    if aborted == 'true' then
      bits = bits + 4
    end
    return bits, tonumber(tries)
  end
end
