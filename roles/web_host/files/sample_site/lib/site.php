<?php
// Sample trilingual site of the Ereje lab: one front controller, content in content/<lang>.json.
// The sitemap's lastmod of a page is its "updated" field, else the time its language file changed.
declare(strict_types=1);

const ROOT = __DIR__ . '/..';

function site(): array
{
    static $site = null;
    return $site ??= json_decode(file_get_contents(ROOT . '/content/site.json'), true, 16, JSON_THROW_ON_ERROR);
}

function content(string $lang): array
{
    $file = ROOT . "/content/$lang.json";
    if (!is_file($file)) {
        return ['pages' => []];
    }
    return json_decode(file_get_contents($file), true, 16, JSON_THROW_ON_ERROR);
}

function h(string $s): string
{
    return htmlspecialchars($s, ENT_QUOTES | ENT_HTML5, 'UTF-8');
}

function url(string $lang, string $slug): string
{
    return $slug === 'home' ? "/$lang/" : "/$lang/$slug";
}

function lastmod(string $lang, array $page): string
{
    return $page['updated'] ?? gmdate('Y-m-d', (int) filemtime(ROOT . "/content/$lang.json"));
}

function release(): string
{
    $marker = ROOT . '/.ereje-release';
    return is_file($marker) ? (json_decode(file_get_contents($marker), true)['id'] ?? 'dev') : 'dev';
}

function not_found(string $lang = 'kk'): void
{
    http_response_code(404);
    header('Content-Type: text/html; charset=utf-8');
    echo '<!DOCTYPE html><html lang="' . h($lang) . '"><head><meta charset="utf-8"><title>404</title></head><body><h1>'
        . h(site()['ui']['notfound'][$lang] ?? 'Not found') . '</h1></body></html>';
}

function questions(): ?array
{
    try {
        $db = new PDO('mysql:unix_socket=/run/mysqld/mysqld.sock;dbname=ereje_site;charset=utf8mb4', get_current_user_name(), '', [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION, PDO::ATTR_TIMEOUT => 2]);
        return $db->query('SELECT lang, question, answer FROM questions ORDER BY id')->fetchAll(PDO::FETCH_ASSOC);
    } catch (Throwable) {
        return null;
    }
}

function get_current_user_name(): string
{
    return function_exists('posix_geteuid') ? (posix_getpwuid(posix_geteuid())['name'] ?? 'nobody') : 'ereje-site';
}

function page(string $lang, string $slug, string $query = ''): void
{
    $site = site();
    $pages = content($lang)['pages'];
    if ($slug !== 'search' && !isset($pages[$slug])) {
        not_found($lang);
        return;
    }
    $page = $slug === 'search' ? ['title' => $site['ui']['results'][$lang], 'sections' => [], 'photos' => []] : $pages[$slug];
    header('Content-Type: text/html; charset=utf-8');
    $ui = fn (string $k): string => h($site['ui'][$k][$lang]);
    echo "<!DOCTYPE html>\n<html lang=\"" . h($lang) . "\">\n<head>\n<meta charset=\"utf-8\">\n";
    echo '<meta name="viewport" content="width=device-width, initial-scale=1">' . "\n";
    echo '<meta name="release" content="' . h(release()) . "\">\n";
    echo '<title>' . h($page['title']) . ' · ' . h($site['name'][$lang]) . "</title>\n";
    echo '<link rel="stylesheet" href="/assets/site.css">' . "\n";
    foreach (array_keys($site['languages']) as $other) {
        if ($slug === 'search' || isset(content($other)['pages'][$slug])) {
            echo '<link rel="alternate" hreflang="' . $other . '" href="' . h(url($other, $slug)) . "\">\n";
        }
    }
    echo "</head>\n<body>\n<header>\n<div class=\"symbols\">";
    echo '<img id="state-flag" src="/assets/state-flag.svg" alt="' . $ui('flag') . '" width="90" height="45">';
    echo '<img id="state-emblem" src="/assets/state-emblem.svg" alt="' . $ui('emblem') . '" width="56" height="56">';
    echo '<a href="/' . $lang . '/"><img id="logo" src="/assets/logo.svg" alt="' . $ui('logo') . '" width="56" height="56"></a>';
    echo '<span class="name">' . h($site['name'][$lang]) . '</span>';
    echo "</div>\n<nav class=\"languages\">";
    foreach ($site['languages'] as $code => $label) {
        echo '<a hreflang="' . $code . '" href="' . h(url($code, $slug)) . '"' . ($code === $lang ? ' aria-current="true"' : '') . '>' . h($label) . '</a> ';
    }
    echo "</nav>\n<nav id=\"main-nav\">";
    foreach ($site['nav'] as $item) {
        if (isset($pages[$item])) {
            echo '<a href="' . h(url($lang, $item)) . '">' . h($pages[$item]['title']) . '</a> ';
        }
    }
    echo "</nav>\n<nav id=\"more-nav\">";
    foreach ($site['more'] as $item) {
        if (isset($pages[$item])) {
            echo '<a href="' . h(url($lang, $item)) . '">' . h($pages[$item]['title']) . '</a> ';
        }
    }
    echo "</nav>\n";
    echo '<form id="site-search" role="search" action="/' . $lang . '/search"><label>' . $ui('search')
        . ' <input type="search" name="q" value="' . h($query) . '"></label> <button type="submit">&#8594;</button></form>';
    echo "\n</header>\n<main>\n<h1>" . h($page['title']) . "</h1>\n";
    foreach ($page['photos'] as $photo) {
        echo '<figure class="photo"><img src="' . h($photo['src']) . '" alt="' . h($photo['alt']) . '" width="600" height="400"><figcaption>' . h($photo['alt']) . "</figcaption></figure>\n";
    }
    foreach ($page['sections'] as $s) {
        echo '<section id="' . h($s['id']) . '"><h2>' . h($s['h']) . '</h2><p>' . h($s['p']) . "</p>";
        if ($s['id'] === 'question-answer') {
            $qs = questions();
            if ($qs === null) {
                echo '<p class="notice">' . $ui('unavailable') . '</p>';
            } else {
                echo '<dl>';
                foreach ($qs as $q) {
                    if ($q['lang'] === $lang) {
                        echo '<dt>' . h($q['question']) . '</dt><dd>' . h($q['answer']) . '</dd>';
                    }
                }
                echo '</dl>';
            }
        }
        echo "</section>\n";
    }
    if ($slug === 'search') {
        echo '<ul id="search-results">';
        foreach ($pages as $s => $p) {
            if ($query !== '' && mb_stripos(json_encode($p, JSON_UNESCAPED_UNICODE), $query) !== false) {
                echo '<li><a href="' . h(url($lang, $s)) . '">' . h($p['title']) . '</a></li>';
            }
        }
        echo '</ul>';
    }
    echo "</main>\n<footer><small>" . h($site['name'][$lang]) . ' · ' . h(release()) . "</small></footer>\n</body>\n</html>\n";
}

function sitemap(): void
{
    header('Content-Type: application/xml; charset=utf-8');
    $scheme = (($_SERVER['HTTPS'] ?? '') !== '' && $_SERVER['HTTPS'] !== 'off') ? 'https' : 'http';
    $base = $scheme . '://' . ($_SERVER['HTTP_HOST'] ?? 'localhost');
    echo '<?xml version="1.0" encoding="UTF-8"?>' . "\n";
    echo '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:xhtml="http://www.w3.org/1999/xhtml">' . "\n";
    foreach (array_keys(site()['languages']) as $lang) {
        foreach (content($lang)['pages'] as $slug => $page) {
            echo '<url><loc>' . h($base . url($lang, $slug)) . '</loc><lastmod>' . h(lastmod($lang, $page)) . "</lastmod></url>\n";
        }
    }
    echo "</urlset>\n";
}
