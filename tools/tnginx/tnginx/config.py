"""nginx.conf generation and $TEST_NGINX_* substitution."""

import os
import re

from .errors import BlockError
from .perl import PerlCtx
from .text import to_bytes


def expand_env(text, what):
    """$TEST_NGINX_* in a section, from the environment."""
    if text is None:
        return None
    if not isinstance(text, str):
        return text

    def rep(m):
        name = m.group(1)
        if re.match(r'^TEST_NGINX_RAND_PORT_[0-9]+$', name):
            raise BlockError('%s: $%s is not supported by tnginx.py' % (what, name))
        if name not in os.environ:
            raise BlockError('%s: No environment %s defined (real Test::Nginx bails out)'
                             % (what, name))
        return os.environ[name]
    return re.sub(r'\$(TEST_NGINX_[_A-Z0-9]+)', rep, text)


def write_config(g, block, fc, config):
    """nginx.conf for a block, as Test::Nginx::Util writes it."""
    sr = g.servroot
    http_config = expand_env(PerlCtx.to_str(block.values.get('http_config')), 'http_config')
    if fc.lua_module and fc.init_by_lua:
        http_config = init_by_lua_filter(http_config, fc.init_by_lua)
    main_config = PerlCtx.to_str(block.values.get('main_config'))
    mods = fc.load_modules
    if mods:
        main_config = ' '.join(['load_module %s;' % x for x in mods] + [main_config])
    main_config = expand_env(main_config, 'main_config')
    post_main = expand_env(PerlCtx.to_str(block.values.get('post_main_config')),
                                'post_main_config')
    log_level = PerlCtx.to_str(block.values.get('log_level')).strip() or fc.log_level
    server_name = PerlCtx.to_str(block.values.get('server_name')) if block.has('server_name') \
        else 'localhost'
    V = g.nginx_V
    temp = {
        'client_body': 'client_body_temp_path %s/client_body_temp;' % sr,
        'proxy': 'proxy_temp_path %s/proxy_temp;' % sr,
        'fastcgi': 'fastcgi_temp_path %s/fastcgi_temp;' % sr,
        'scgi': 'scgi_temp_path %s/scgi_temp;' % sr,
        'uwsgi': 'uwsgi_temp_path %s/uwsgi_temp;' % sr,
    }
    for k in ('fastcgi', 'scgi', 'uwsgi'):
        if '--without-http_%s_module' % k in V:
            temp[k] = ''
    if re.search(r'\bproxy_temp_path\b', http_config):
        temp['proxy'] = ''
    if re.search(r'\bclient_body_temp_path\b', http_config):
        temp['client_body'] = ''
    c = []
    c.append('worker_processes  %d;\n' % fc.workers)
    c.append('daemon %s;\n' % ('off' if g.valgrind else 'on'))
    c.append('master_process %s;\n' % fc.master)
    c.append('error_log %s %s;\n' % (g.errlog, log_level))
    c.append('pid       %s;\n' % os.path.join(sr, 'logs', 'nginx.pid'))
    for e in ('MOCKEAGAIN_VERBOSE', 'MOCKEAGAIN', 'MOCKEAGAIN_WRITE_TIMEOUT_PATTERN',
              'LD_PRELOAD', 'LD_LIBRARY_PATH', 'DYLD_INSERT_LIBRARIES',
              'DYLD_FORCE_FLAT_NAMESPACE'):
        c.append('env %s;\n' % e)
    for v in fc.env_to_nginx:
        c.append('env %s;\n' % ("'%s'" % v if re.search(r'\s', v) else v))
    c.append('#env LUA_PATH;\n#env LUA_CPATH;\n\n%s\n\nhttp {\n' % main_config)
    c.append('    access_log %s; %s %s %s %s %s\n' % (g.acclog, temp['client_body'],
                                                      temp['proxy'], temp['fastcgi'],
                                                      temp['scgi'], temp['uwsgi']))
    c.append('    #access_log off;\n\n    default_type text/plain;\n'
             '    keepalive_timeout  68000ms;\n\n')
    c.append('%s\n' % http_config)
    c.append('    server {\n        listen          %d;\n' % g.server_port)
    c.append('        #placeholder\n')
    c.append("        server_name     '%s';\n" % server_name)
    c.append('        \n        client_max_body_size 30M;\n'
             '        #client_body_buffer_size 4k;\n\n')
    c.append('        # Begin preamble config...\n%s\n        # End preamble config...\n\n'
             % fc.config_preamble)
    c.append('        # Begin test case config...\n%s\n        # End test case config.\n\n'
             % config)
    if not fc.no_root_location:
        c.append('        location / {\n            root %s;\n'
                 '            index index.html index.htm;\n        }\n'
                 % os.path.join(sr, 'html'))
    c.append('    }\n')
    c.append('}\n\n%s\n\n#timer_resolution 100ms;\n\nevents {\n    accept_mutex off;\n\n'
             '    worker_connections  %d;\n' % (post_main, fc.worker_connections))
    if fc.event_type:
        c.append('    use %s;\n' % fc.event_type)
    c.append('}\n')
    c.append('env ASAN_OPTIONS;\nenv MOCKNOEAGAIN_VERBOSE;\nenv MOCKNOEAGAIN;\n')
    if fc.worker_user:
        c.append('user %s;\n' % fc.worker_user)
    elif hasattr(os, 'geteuid') and os.geteuid() == 0:
        c.append('user root;\n')
    with open(g.conffile, 'wb') as f:
        f.write(to_bytes(''.join(c)))


def init_by_lua_filter(config, code):
    """Test::Nginx::Socket::Lua's TEST_NGINX_INIT_BY_LUA handling."""
    if 'init_by_lua_file' in config:
        return config
    esc = code.replace('\\', '\\\\')
    esc = re.sub(r'([\'"])', r'\\\1', esc)
    rx = re.compile(r'(?<!#  )(?<!# )(?<!#)init_by_lua\s*([\'"])((?:\\.|.)*)\1\s*;', re.S)
    m = rx.search(config)
    if m:
        return config[:m.start()] + 'init_by_lua %s%s%s%s;' % (m.group(1), esc, m.group(2),
                                                              m.group(1)) + config[m.end():]
    rx = re.compile(r'(?<!#  )(?<!# )(?<!#)init_by_lua_block\s*\{', re.S)
    m = rx.search(config)
    if m:
        return config[:m.start()] + 'init_by_lua_block { %s ' % code + config[m.end():]
    return config + "init_by_lua '%s';" % esc
